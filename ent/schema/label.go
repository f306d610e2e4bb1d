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

// Label tags conversations ("billing", "vip"). Names are unique per
// workspace regardless of case.
type Label struct{ ent.Schema }

// Mixin of the Label.
func (Label) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lbl"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Label.
func (Label) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(50).
			Annotations(entgql.OrderField("NAME")),
		// The lower-cased name, for the case-insensitive unique index.
		field.String("name_key").NotEmpty().MaxLen(50).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("color").Default("").MaxLen(20),
	}
}

// Edges of the Label.
func (Label) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("conversations", Conversation.Type).
			Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Label.
func (Label) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "name_key").Unique()}
}

// Annotations of the Label.
func (Label) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
