package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// PostStatuses are a post's states (docs/publishing.md).
var PostStatuses = []string{
	"Draft", "DRAFT", "InReview", "IN_REVIEW", "Approved", "APPROVED", "Rejected", "REJECTED",
	"Scheduled", "SCHEDULED", "Publishing", "PUBLISHING", "Published", "PUBLISHED",
	"PartiallyPublished", "PARTIALLY_PUBLISHED", "Failed", "FAILED",
}

// Post is content to publish on one or more channels (one PostTarget each).
type Post struct{ ent.Schema }

// Mixin of the Post.
func (Post) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("post"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Post.
func (Post) Fields() []ent.Field {
	return []ent.Field{
		// The member who created it: apikey:… or user:….
		field.String("author").Immutable(),
		field.Text("text").Default(""),
		field.JSON("media", []schematype.PostMedia{}).Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("status").NamedValues(PostStatuses...).Default("DRAFT").
			Annotations(entgql.OrderField("STATUS")),
		// When to publish; nil publishes as soon as it is approved.
		field.Time("scheduled_at").Optional().Nillable().
			Annotations(entgql.OrderField("SCHEDULED_AT")),
		// When its last target finished publishing.
		field.Time("published_at").Optional().Nillable().
			Annotations(entgql.OrderField("PUBLISHED_AT")),
	}
}

// Edges of the Post.
func (Post) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("targets", PostTarget.Type).Ref("post"),
		edge.From("events", PostEvent.Type).Ref("post").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Post.
func (Post) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("workspace_id", "scheduled_at"),
		index.Fields("workspace_id", "published_at"),
	}
}

// Annotations of the Post.
func (Post) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}

// PostTarget is a post on one channel: its own text, format and options,
// and its own publishing state machine (core/publish).
type PostTarget struct{ ent.Schema }

// Mixin of the PostTarget.
func (PostTarget) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ptg"), TimeMixin{}, TenantMixin{}}
}

// Fields of the PostTarget.
func (PostTarget) Fields() []ent.Field {
	return []ent.Field{
		field.String("post_id").GoType(pulid.ID("")).Immutable(),
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		// Replaces the post's text on this channel when set.
		field.Text("text").Optional().Nillable(),
		// The platform's post format (feed, photo, image, carousel, reel, …).
		field.String("format").Default(""),
		field.JSON("options", map[string]string{}).Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("status").NamedValues("Pending", "PENDING", "Publishing", "PUBLISHING",
			"Published", "PUBLISHED", "Failed", "FAILED").Default("PENDING"),
		// The platform's post id (or a container id while processing).
		field.String("external_id").Optional(),
		field.String("url").Optional(),
		field.String("error_code").Optional(),
		field.String("error_message").Optional(),
		// Publish calls started for it.
		field.Int("attempts").Default(0),
		// Bumped whenever its jobs are replaced (reschedule, unschedule,
		// retry): a job of an older generation does nothing.
		field.Int("generation").Default(0).Annotations(entgql.Skip(entgql.SkipAll)),
		// Set when a Publish call starts: a run that finds it set and the
		// target still PUBLISHING knows an earlier call was cut off.
		field.Time("publishing_started_at").Optional().Nillable(),
		field.Time("published_at").Optional().Nillable(),
		// When it became FAILED (set with the status, cleared when it
		// leaves FAILED): analytics counts POSTS_FAILED at this time, which
		// later updates of the row (updated_at) do not move.
		field.Time("failed_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the PostTarget.
func (PostTarget) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("post", Post.Type).Field("post_id").Unique().Required().Immutable(),
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PostTarget.
func (PostTarget) Indexes() []ent.Index {
	return []ent.Index{index.Fields("post_id"), index.Fields("channel_id")}
}

// Annotations of the PostTarget: filterable (posts(where: {hasTargetsWith:
// {channelID: …}}) lists a channel's posts).
func (PostTarget) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipOrderField)}
}

// PostEvent is one entry of a post's history: a transition (from → to),
// a comment, or a target's outcome.
type PostEvent struct{ ent.Schema }

// Mixin of the PostEvent.
func (PostEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pev"), TimeMixin{}, TenantMixin{}}
}

// Fields of the PostEvent.
func (PostEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("post_id").GoType(pulid.ID("")).Immutable(),
		// Set for a target's outcome.
		field.String("target_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Enum("kind").NamedValues("Transition", "TRANSITION", "Comment", "COMMENT", "Target", "TARGET").Immutable(),
		// apikey:…, user:… or system:….
		field.String("actor").Immutable(),
		field.String("from_status").Default("").Immutable(),
		field.String("to_status").Default("").Immutable(),
		field.Text("comment").Default("").Immutable(),
	}
}

// Edges of the PostEvent.
func (PostEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("post", Post.Type).Field("post_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PostEvent.
func (PostEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("post_id", "created_at")}
}

// Annotations of the PostEvent.
func (PostEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
