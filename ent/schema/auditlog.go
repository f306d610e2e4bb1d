package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// AuditLog records a sensitive action: who did what to which object, when.
type AuditLog struct{ ent.Schema }

// Mixin of the AuditLog.
func (AuditLog) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("aud"), TenantMixin{}}
}

// Fields of the AuditLog.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor").Immutable(),
		field.String("action").Immutable(),
		field.String("target_type").Immutable(),
		field.String("target_id").Immutable(),
		// request_id ties the entry to the request (X-Request-ID) or job run
		// that wrote it.
		field.String("request_id").Default("").Immutable(),
		field.JSON("metadata", map[string]string{}).Optional().Immutable().
			Annotations(entgql.Type("Map")),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes of the AuditLog.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("workspace_id", "created_at"),
		// Analytics replays a conversation's resolutions (the
		// conversation.resolve entries targeting it).
		index.Fields("workspace_id", "target_id"),
	}
}

// Annotations of the AuditLog.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("auditLogs").Description("Who did what, newest first by default (admins only)."),
	}
}

// Policy of the AuditLog: append-only for members; the tenant mixin's
// policy still scopes reads and the create.
func (AuditLog) Policy() ent.Policy {
	return privacy.Policy{
		Mutation: privacy.MutationPolicy{
			allowPlatform(),
			privacy.OnMutationOperation(privacy.AlwaysDenyRule(), ent.OpUpdate|ent.OpUpdateOne|ent.OpDelete|ent.OpDeleteOne),
		},
	}
}
