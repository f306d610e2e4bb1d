package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// Conversation is a thread on a channel: the DMs with one person, the
// comments under one post, or one review and its replies.
type Conversation struct{ ent.Schema }

// Mixin of the Conversation.
func (Conversation) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cv"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Conversation.
func (Conversation) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("contact_id").GoType(pulid.ID("")).Optional().Nillable(),
		field.Enum("kind").
			NamedValues("DirectMessage", "DIRECT_MESSAGE", "CommentThread", "COMMENT_THREAD", "Review", "REVIEW").
			Immutable(),
		// The platform's id of the thread: the person, the post, the review.
		field.String("thread_id").Immutable().NotEmpty(),
		field.String("subject").Optional(),
		field.String("url").Optional(),
		// A comment thread's post picture (its thumbnail for a video).
		field.String("thumbnail_url").Optional(),
		// When the thread's context (a post's text, permalink and picture)
		// was read from the platform; nil until then.
		field.Time("context_fetched_at").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("status").
			NamedValues("Open", "OPEN", "Pending", "PENDING", "Resolved", "RESOLVED").
			Default("OPEN").
			Annotations(entgql.OrderField("STATUS")),
		field.String("assignee_id").GoType(pulid.ID("")).Optional().Nillable(),
		// Who assigned it (user:… or apikey:…), empty when unassigned.
		field.String("assigned_by").Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		// Nil inherits the channel's mode.
		field.Enum("ai_mode").NamedValues(aiModeValues...).Optional().Nillable(),
		field.Time("last_message_at").Default(time.Now).
			Annotations(entgql.OrderField("LAST_MESSAGE_AT")),
		// The platforms' reply windows count from the customer's last message.
		field.Time("last_inbound_at").Optional().Nillable(),
		// Set when the conversation was handed to a human (by the agent, or
		// because a delivery failed for good); cleared when someone takes it.
		field.String("handoff_reason").Optional(),
		field.Time("handed_off_at").Optional().Nillable(),
		// Waiting for a person: set by a handoff (which also unassigns),
		// cleared when a member is assigned or the handoff is cleared. The
		// handoff reason stays while a member works it, so the agent keeps
		// out until the handoff is cleared.
		field.Bool("needs_human").Default(false),
		// A review's current stars (1-5), following its edits; nil for
		// other conversations. conversations(where: {ratingLTE: 2}) finds
		// the unhappy reviews.
		field.Int("rating").Optional().Nillable().Range(1, 5),
		// Roll-up of the latest inbound messages' sentiment (core/sentiment).
		field.Enum("sentiment_label").NamedValues(sentimentValues...).Optional().Nillable(),
		field.Float("sentiment_score").Optional().Nillable(),
	}
}

// Edges of the Conversation.
func (Conversation) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("contact", Contact.Type).Field("contact_id").Unique(),
		edge.To("assignee", User.Type).Field("assignee_id").Unique(),
		edge.From("messages", Message.Type).Ref("conversation").
			Annotations(entgql.RelayConnection()),
		edge.From("agent_runs", AgentRun.Type).Ref("conversation").
			Annotations(entgql.RelayConnection()),
		edge.From("labels", Label.Type).Ref("conversations"),
	}
}

// Indexes of the Conversation.
func (Conversation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "kind", "thread_id").Unique(),
		index.Fields("workspace_id", "status", "last_message_at"),
		index.Fields("workspace_id", "last_message_at"),
		index.Fields("workspace_id", "assignee_id"),
		// Analytics collects the conversations opened in a time window.
		index.Fields("workspace_id", "created_at"),
	}
}

// Annotations of the Conversation.
func (Conversation) Annotations() []schema.Annotation {
	// RowScan: the ingest's lookup (core/inbox) decodes conversations.
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), RowScan{}}
}
