package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// PublishingSettings are a workspace's publishing rules; at most one row
// per workspace, created on the first update (defaults apply until then).
type PublishingSettings struct{ ent.Schema }

// Mixin of the PublishingSettings.
func (PublishingSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pbs"), TimeMixin{}, TenantMixin{}}
}

// Fields of the PublishingSettings.
func (PublishingSettings) Fields() []ent.Field {
	return []ent.Field{
		// A post is published only after an admin or owner approves it.
		field.Bool("require_post_approval").Default(true),
	}
}

// Indexes of the PublishingSettings.
func (PublishingSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id").Unique().StorageKey("publishingsettings_workspace_unique")}
}

// Annotations of the PublishingSettings.
func (PublishingSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
