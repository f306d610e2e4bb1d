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

// KnowledgeChunk is one passage of a knowledge document; its ID is the
// vector's ID in core/vector, and its text is what answers cite.
type KnowledgeChunk struct{ ent.Schema }

// Mixin of the KnowledgeChunk.
func (KnowledgeChunk) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("kc"), TimeMixin{}, TenantMixin{}}
}

// Fields of the KnowledgeChunk.
func (KnowledgeChunk) Fields() []ent.Field {
	return []ent.Field{
		field.String("document_id").GoType(pulid.ID("")).Immutable(),
		field.Int("index").Immutable(),
		// The heading path inside the document, "Opening hours > Riverside".
		field.String("heading").Default("").Immutable(),
		field.Text("text").Immutable(),
		// Byte offsets of the text in the extracted document text.
		field.Int("start_offset").Immutable(),
		field.Int("end_offset").Immutable(),
	}
}

// Edges of the KnowledgeChunk.
func (KnowledgeChunk) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("document", KnowledgeDocument.Type).Field("document_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of the KnowledgeChunk.
func (KnowledgeChunk) Indexes() []ent.Index {
	return []ent.Index{index.Fields("document_id", "index")}
}

// Annotations of the KnowledgeChunk.
func (KnowledgeChunk) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
