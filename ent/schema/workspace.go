package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// Workspace is a tenant: one business.
type Workspace struct{ ent.Schema }

// Mixin of the Workspace.
func (Workspace) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ws"), TimeMixin{}}
}

// Fields of the Workspace.
func (Workspace) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		// Privacy settings (core/workspace, schema/privacy.graphqls). They
		// reach GraphQL as Workspace.settings, not as fields of their own.
		field.Int("message_retention_days").Optional().Nillable().Min(1).
			Comment("Conversations whose last message is older are purged; null keeps them.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("audit_retention_days").Default(365).Min(365).
			Comment("Audit entries older than this are purged; at least a year.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("ai_processing").Values("BUILTIN_ONLY", "EXTERNAL_ALLOWED").Default("BUILTIN_ONLY").
			Comment("Whether customer data may go to an external AI provider.").
			Annotations(entgql.Skip(entgql.SkipAll)),
		// Set by deleteWorkspace: the workspace is purged once purge_after
		// has passed, unless restoreWorkspace clears both first.
		field.Time("deletion_requested_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("purge_after").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Workspace.
func (Workspace) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("memberships", Membership.Type).Ref("workspace").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Annotations of the Workspace.
func (Workspace) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}

// Policy of the Workspace: a viewer sees and (as an admin) changes only
// its own workspace; workspaces are created by the operator.
func (Workspace) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			denyWithoutViewer(),
			allowPlatform(),
			filterByColumn("id"),
		},
		Mutation: privacy.MutationPolicy{
			denyWithoutViewer(),
			allowPlatform(),
			privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
				if m.Op().Is(ent.OpCreate) {
					return privacy.Denyf("workspaces are created by the operator")
				}
				if !tenant.FromContext(ctx).Role.AtLeast(tenant.RoleAdmin) {
					return privacy.Denyf("admin role required")
				}
				return privacy.Skip
			}),
			filterByColumn("id"),
		},
	}
}
