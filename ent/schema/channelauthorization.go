package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// ChannelAuthorization is one run of a platform's OAuth consent for a
// workspace (core/onboarding): started by a member, answered by the
// platform's redirect, and holding for a short while the grant it brought
// back, from which the member connects the accounts it opens. The state
// parameter of the redirect is stored only as a hash, the grant only
// sealed with the master key.
type ChannelAuthorization struct{ ent.Schema }

// Mixin of the ChannelAuthorization.
func (ChannelAuthorization) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cauth"), TimeMixin{}, TenantMixin{}}
}

// Fields of the ChannelAuthorization.
func (ChannelAuthorization) Fields() []ent.Field {
	return []ent.Field{
		field.String("connector").Immutable().NotEmpty(),
		// PENDING until the platform redirects back; GRANTED with a grant,
		// FAILED with an error; EXPIRED is shown once expires_at passed.
		field.Enum("status").NamedValues("Pending", "PENDING", "Granted", "GRANTED", "Failed", "FAILED", "Expired", "EXPIRED").
			Default("PENDING"),
		// SHA-256 of the state's nonce: what the callback looks up.
		field.String("state_hash").Immutable().Unique().Sensitive(),
		field.Time("state_expires_at").Immutable(),
		// Set by the one callback that may use the state.
		field.Time("state_used_at").Optional().Nillable(),
		// The redirect URI sent with the consent URL: the code exchange
		// must name exactly this one.
		field.String("redirect_uri").Immutable(),
		// The member who started it (user:… or apikey:…): only they read
		// it and connect from it.
		field.String("started_by").Immutable(),
		// The grant (sdk.Grant as JSON), sealed with the master key and
		// bound to this row; wiped when the authorization expires.
		field.Bytes("grant").Optional().Sensitive(),
		// What the grant opens, without secrets.
		field.JSON("accounts", []schematype.AuthorizedAccount{}).Optional(),
		// Why it failed: the platform's error code (access_denied, …) and
		// a message.
		field.String("error_code").Optional(),
		field.String("error").Optional(),
		// The grant is kept until then.
		field.Time("expires_at").Immutable(),
	}
}

// Indexes of the ChannelAuthorization.
func (ChannelAuthorization) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Annotations of the ChannelAuthorization.
func (ChannelAuthorization) Annotations() []schema.Annotation {
	// The GraphQL type is hand-written (schema/onboarding.graphqls).
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
