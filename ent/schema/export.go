package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// Export is one archive of a workspace's data, or of one contact's, built
// by the export.build job (core/privacy) and kept for seven days.
type Export struct{ ent.Schema }

// Mixin of the Export.
func (Export) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("exp"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Export.
func (Export) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("scope").NamedValues("Workspace", "WORKSPACE", "Contact", "CONTACT").Immutable(),
		field.String("contact_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Enum("status").NamedValues("Pending", "PENDING", "Running", "RUNNING", "Ready", "READY",
			"Failed", "FAILED", "Expired", "EXPIRED").Default("PENDING"),
		field.String("requested_by").Immutable(),
		// storage_key is where the archive lives in the media bucket.
		field.String("storage_key").Optional(),
		field.Int64("size").Default(0),
		field.String("error").Optional(),
		field.Time("finished_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable(),
	}
}

// Indexes of the Export.
func (Export) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "created_at"), index.Fields("status", "expires_at")}
}

// Annotations of the Export: the GraphQL type is written by hand
// (schema/privacy.graphqls) around a signed URL.
func (Export) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
