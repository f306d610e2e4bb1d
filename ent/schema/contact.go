package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// Contact is a person on a channel: a WhatsApp user, a Messenger PSID, an
// Instagram IGSID, a reviewer.
type Contact struct{ ent.Schema }

// Mixin of the Contact.
func (Contact) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ct"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Contact.
func (Contact) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("external_id").Immutable().NotEmpty(),
		field.String("name").Default("").
			Annotations(entgql.OrderField("NAME")),
		field.String("username").Optional(),
		field.String("phone").Optional(),
		field.String("avatar_url").Optional(),
		// When the platform's profile was last read (a Messenger or
		// Instagram DM sends no name): read once, refreshed rarely.
		field.Time("profile_fetched_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Contact.
func (Contact) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.From("conversations", Conversation.Type).Ref("contact").
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Contact.
func (Contact) Indexes() []ent.Index {
	return []ent.Index{index.Fields("channel_id", "external_id").Unique()}
}

// Annotations of the Contact.
func (Contact) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
