package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// CannedReply is a saved answer members insert by shortcut; its text may
// hold variables ({{contact.name}}) filled in when it is sent.
type CannedReply struct{ ent.Schema }

// Mixin of the CannedReply.
func (CannedReply) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cr"), TimeMixin{}, TenantMixin{}}
}

// Fields of the CannedReply.
func (CannedReply) Fields() []ent.Field {
	return []ent.Field{
		field.String("shortcut").NotEmpty().MaxLen(50).
			Annotations(entgql.OrderField("SHORTCUT")),
		field.Text("text").NotEmpty(),
		field.String("created_by").Optional().Immutable(),
	}
}

// Indexes of the CannedReply.
func (CannedReply) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "shortcut").Unique()}
}

// Annotations of the CannedReply.
func (CannedReply) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
