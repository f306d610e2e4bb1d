package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// Media is a file in Neksio's media store (core/media): an image or video
// uploaded for a post today; inbound attachments and outbound reply
// attachments can be stored the same way (Source says which).
type Media struct{ ent.Schema }

// Mixin of the Media.
func (Media) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("med"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Media.
func (Media) Fields() []ent.Field {
	return []ent.Field{
		// image, video, audio, document.
		field.Enum("kind").NamedValues("Image", "IMAGE", "Video", "VIDEO", "Audio", "AUDIO", "Document", "DOCUMENT").Immutable(),
		// Sniffed from the content, never taken from the client.
		field.String("mime_type").Immutable(),
		field.Int64("size").Immutable(),
		field.String("sha256").Immutable(),
		field.String("filename").Default("").Immutable(),
		// Where the bytes are in the bucket; never shown.
		field.String("storage_key").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		// upload (uploadMedia); later: inbound, outbound.
		field.String("source").Default("upload").Immutable(),
		// The member who uploaded it (apikey:… or user:…).
		field.String("created_by").Default("").Immutable(),
	}
}

// Indexes of the Media.
func (Media) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id", "sha256")}
}

// Annotations of the Media.
func (Media) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
