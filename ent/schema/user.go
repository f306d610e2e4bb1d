package schema

import (
	"context"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// User is a person who signs in; workspaces reach users through
// memberships.
type User struct{ ent.Schema }

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("usr"), TimeMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("email").NotEmpty().MaxLen(320).Unique(),
		field.String("name").Default("").MaxLen(200),
		// argon2id, PHC string format.
		field.String("password_hash").Optional().Sensitive().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("memberships", Membership.Type).Ref("user").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	// The where input lets conversations filter by assignee
	// (hasAssignee, hasAssigneeWith); it reaches only the email and name of
	// the workspace's own members, which the policy below limits it to.
	return []schema.Annotation{entgql.Skip(entgql.SkipOrderField)}
}

// Policy of the User: members see the users of their workspace; users are
// managed by the operator.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			denyWithoutViewer(),
			allowPlatform(),
			queryRuleFunc(func(ctx context.Context, q ent.Query) error {
				w, ok := q.(wherer)
				if !ok {
					return privacy.Denyf("cannot filter %T", q)
				}
				ws := tenant.FromContext(ctx).WorkspaceID
				w.WhereP(func(s *sql.Selector) {
					s.Where(sql.In(s.C("id"),
						sql.Select("user_id").From(sql.Table("memberships")).Where(sql.EQ("workspace_id", ws))))
				})
				return privacy.Skip
			}),
		},
		Mutation: privacy.MutationPolicy{
			allowPlatform(),
			privacy.AlwaysDenyRule(),
		},
	}
}
