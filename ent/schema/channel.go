package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// Channel is one connected account on a platform: a WhatsApp number, a
// Facebook Page, an Instagram account, a Google location, a TikTok account.
type Channel struct{ ent.Schema }

// Mixin of the Channel.
func (Channel) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ch"), TimeMixin{}, TenantMixin{}}
}

var aiModeValues = []string{"Auto", "AUTO", "Draft", "DRAFT", "Off", "OFF"}

// Fields of the Channel.
func (Channel) Fields() []ent.Field {
	return []ent.Field{
		field.String("connector").Immutable().NotEmpty().
			Annotations(entgql.OrderField("CONNECTOR")),
		field.String("platform").Immutable().NotEmpty(),
		// The platform's id of the account; webhooks are routed by it.
		field.String("external_id").Immutable().NotEmpty(),
		field.String("name").Default("").MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("status").
			NamedValues("Active", "ACTIVE", "NeedsReconnect", "NEEDS_RECONNECT", "Disconnected", "DISCONNECTED").
			Default("ACTIVE"),
		field.Enum("ai_mode").NamedValues(aiModeValues...).Default("DRAFT"),
		// AES-256-GCM ciphertexts (core/secret); never leave the host.
		field.Bytes("credentials").Optional().Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bytes("app_secret").Optional().Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bytes("verify_token").Optional().Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("token_expires_at").Optional().Nillable(),
		field.Strings("token_scopes").Optional(),
		field.String("last_error").Optional(),
		field.Time("disconnected_at").Optional().Nillable(),
		// Where the last Sync (pull of what the platform does not push,
		// e.g. reviews) stopped, and when it ran.
		field.String("sync_cursor").Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("synced_at").Optional().Nillable(),
		// When the sync pass in progress began (its pages may span several
		// runs); it becomes synced_at when the pass completes, so the next
		// pass reads everything changed since this one began.
		field.Time("sync_started_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Channel.
func (Channel) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("conversations", Conversation.Type).Ref("channel").
			Annotations(entgql.RelayConnection()),
		edge.From("contacts", Contact.Type).Ref("channel").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Channel.
func (Channel) Indexes() []ent.Index {
	return []ent.Index{
		// An account belongs to one workspace at a time: webhooks are
		// routed by it. The database enforces it, so two workspaces
		// connecting the same account at once cannot both win.
		index.Fields("connector", "external_id").Unique().
			Annotations(entsql.IndexWhere("status <> 'DISCONNECTED'")),
		index.Fields("workspace_id", "connector", "external_id").Unique(),
	}
}

// Annotations of the Channel.
func (Channel) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
