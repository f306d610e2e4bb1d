package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// KnowledgeDocument is one document of a workspace's knowledge base. The
// kb.index job turns it into KnowledgeChunks and their vectors.
type KnowledgeDocument struct{ ent.Schema }

// Mixin of the KnowledgeDocument.
func (KnowledgeDocument) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("kd"), TimeMixin{}, TenantMixin{}}
}

// Fields of the KnowledgeDocument.
func (KnowledgeDocument) Fields() []ent.Field {
	return []ent.Field{
		field.String("title").NotEmpty().MaxLen(300).
			Annotations(entgql.OrderField("TITLE")),
		field.Enum("format").NamedValues("Text", "TEXT", "Markdown", "MARKDOWN", "HTML", "HTML"),
		field.Text("content").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Enum("status").NamedValues("Pending", "PENDING", "Indexed", "INDEXED", "Failed", "FAILED").
			Default("PENDING").
			Annotations(entgql.OrderField("STATUS")),
		field.Int("chunk_count").Default(0).NonNegative(),
		// Why the last indexing failed; empty otherwise.
		field.String("error").Optional().
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Time("indexed_at").Optional().Nillable(),
		// Bumped by every content change; an index job carries the version
		// it was queued for and does nothing when the document moved on.
		field.Int("version").Default(1).
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// The embedding space of the stored vectors (core/vector.Space), so
		// a delete removes them even after the model changed.
		field.String("embedding_model").Optional().
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Int("embedding_dimension").Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the KnowledgeDocument.
func (KnowledgeDocument) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("chunks", KnowledgeChunk.Type).Ref("document"),
	}
}

// Indexes of the KnowledgeDocument.
func (KnowledgeDocument) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "created_at")}
}

// Annotations of the KnowledgeDocument.
func (KnowledgeDocument) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
