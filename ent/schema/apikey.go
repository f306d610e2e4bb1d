package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// APIKey authenticates a program. The key itself is shown once; only its
// SHA-256 is stored, with a visible prefix so people can tell keys apart.
type APIKey struct{ ent.Schema }

// Mixin of the APIKey.
func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("key"), TimeMixin{}, TenantMixin{}}
}

// Fields of the APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Default("").MaxLen(200),
		field.String("prefix").Immutable().NotEmpty(),
		field.String("hash").Immutable().Unique().Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("role").NamedValues(roleValues...),
		field.String("created_by").Optional().Immutable(),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Annotations of the APIKey.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField),
		entgql.RelayConnection(),
		entgql.QueryField("apiKeys").Description("The workspace's API keys (admins only). Keys themselves are never shown again."),
	}
}
