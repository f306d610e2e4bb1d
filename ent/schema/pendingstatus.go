package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// PendingStatus holds a delivery status that arrived before Neksio knew
// the platform's id of its message: a platform may report "delivered"
// before the send call that created the message has returned. It is
// applied, and deleted, when the message's id is recorded.
type PendingStatus struct{ ent.Schema }

// Mixin of the PendingStatus.
func (PendingStatus) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pst"), TenantMixin{}}
}

// Fields of the PendingStatus.
func (PendingStatus) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("external_id").Immutable().NotEmpty(),
		field.String("status").Immutable(),
		field.String("error_code").Optional().Immutable(),
		field.String("error_message").Optional().Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Indexes of the PendingStatus.
func (PendingStatus) Indexes() []ent.Index {
	return []ent.Index{index.Fields("channel_id", "external_id")}
}

// Annotations of the PendingStatus.
func (PendingStatus) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
