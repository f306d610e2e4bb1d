package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// Invite asks a person by email to join a workspace with a role. The
// one-time token travels in the invite URL; only its SHA-256 is stored.
type Invite struct{ ent.Schema }

// Mixin of the Invite.
func (Invite) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("inv"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Invite.
func (Invite) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").NotEmpty().MaxLen(320).Immutable(),
		field.Enum("role").NamedValues(roleValues...).Immutable(),
		field.String("hash").Immutable().Unique().Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("expires_at").Immutable(),
		field.Time("accepted_at").Optional().Nillable(),
		field.String("accepted_by").GoType(pulid.ID("")).Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
		// The actor who invited (user:… or apikey:…).
		field.String("invited_by").Immutable(),
	}
}

// Annotations of the Invite.
func (Invite) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField),
		entgql.RelayConnection(),
		entgql.QueryField("invites").Description("The workspace's invitations (admins only). Their tokens are never shown again."),
	}
}
