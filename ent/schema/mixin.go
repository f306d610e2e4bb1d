package schema

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// TimeMixin adds creation and update times.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// TenantMixin scopes a schema to a workspace: a workspace_id column set
// from the viewer on create and never changed, and a privacy policy that
// filters every query and mutation by the viewer's workspace.
type TenantMixin struct{ mixin.Schema }

// Fields of the TenantMixin.
func (TenantMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("workspace_id").GoType(pulid.ID("")).Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the TenantMixin.
func (TenantMixin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("workspace", Workspace.Type).Field("workspace_id").
			Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the TenantMixin.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id")}
}

// Policy of the TenantMixin.
func (TenantMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			denyWithoutViewer(),
			allowPlatform(),
			filterByColumn("workspace_id"),
		},
		Mutation: privacy.MutationPolicy{
			denyWithoutViewer(),
			allowPlatform(),
			denyReadOnlyRoles(),
			setWorkspaceOnCreate(),
			filterByColumn("workspace_id"),
		},
	}
}

func denyWithoutViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		v := tenant.FromContext(ctx)
		if v == nil || (v.WorkspaceID == "" && !v.Platform()) {
			return privacy.Denyf("no viewer in context")
		}
		return privacy.Skip
	})
}

func allowPlatform() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if tenant.FromContext(ctx).Platform() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// denyReadOnlyRoles keeps analysts read-only whatever the API layer does.
func denyReadOnlyRoles() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, _ ent.Mutation) error {
		if v := tenant.FromContext(ctx); !v.Role.AtLeast(tenant.RoleAgent) {
			return privacy.Denyf("role %s is read-only", v.Role)
		}
		return privacy.Skip
	})
}

// setWorkspaceOnCreate stamps new rows with the viewer's workspace and
// refuses rows aimed at another one.
func setWorkspaceOnCreate() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		if !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		ws := pulid.ID(tenant.FromContext(ctx).WorkspaceID)
		if got, ok := m.Field("workspace_id"); ok {
			if got.(pulid.ID) != ws {
				return privacy.Denyf("row belongs to another workspace")
			}
			return privacy.Allow
		}
		if err := m.SetField("workspace_id", ws); err != nil {
			return privacy.Denyf("setting workspace: %v", err)
		}
		return privacy.Allow
	})
}

// wherer is implemented by every generated query and mutation.
type wherer interface {
	WhereP(...func(*sql.Selector))
}

// columnFilter limits queries, updates and deletes to the viewer's
// workspace, read from a column. It does not use the generated privacy
// package's FilterFunc: schemas cannot import generated code.
type columnFilter struct{ column string }

func filterByColumn(column string) privacy.QueryMutationRule { return columnFilter{column} }

func (f columnFilter) apply(ctx context.Context, target any) error {
	w, ok := target.(wherer)
	if !ok {
		return privacy.Denyf("cannot filter %T by workspace", target)
	}
	ws := tenant.FromContext(ctx).WorkspaceID
	w.WhereP(func(s *sql.Selector) { s.Where(sql.EQ(s.C(f.column), ws)) })
	return privacy.Skip
}

func (f columnFilter) EvalQuery(ctx context.Context, q ent.Query) error { return f.apply(ctx, q) }

func (f columnFilter) EvalMutation(ctx context.Context, m ent.Mutation) error {
	if m.Op().Is(ent.OpCreate) {
		return privacy.Skip
	}
	return f.apply(ctx, m)
}

// queryRuleFunc adapts a function to a query rule (ent/privacy has only
// the mutation adapter; the generated one cannot be imported from here).
type queryRuleFunc func(context.Context, ent.Query) error

func (f queryRuleFunc) EvalQuery(ctx context.Context, q ent.Query) error { return f(ctx, q) }
