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
	"github.com/neksio/neksio/ent/schema/schematype"
)

var sentimentValues = []string{"Positive", "POSITIVE", "Neutral", "NEUTRAL", "Negative", "NEGATIVE"}

// Message is one DM, comment, review or reply, inbound or outbound.
type Message struct{ ent.Schema }

// Mixin of the Message.
func (Message) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("msg"), TimeMixin{}, TenantMixin{}}
}

// Fields of the Message.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.String("conversation_id").GoType(pulid.ID("")).Immutable(),
		// Denormalised from the conversation: the unique key on
		// (channel_id, external_id) makes a repeated delivery a no-op.
		field.String("channel_id").GoType(pulid.ID("")).Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("contact_id").GoType(pulid.ID("")).Optional().Nillable(),
		// INTERNAL is a private note of the team (type "note"): never
		// delivered, never read by the agent, sentiment or retrieval.
		field.Enum("direction").NamedValues("Inbound", "INBOUND", "Outbound", "OUTBOUND", "Internal", "INTERNAL").Immutable(),
		field.Enum("author_kind").
			NamedValues("Contact", "CONTACT", "Agent", "AGENT", "AI", "AI", "System", "SYSTEM").
			Immutable(),
		// The member who wrote an agent message or note: "user:usr_…" or
		// "apikey:key_…" (Message.author resolves it).
		field.String("author_id").Optional().Immutable(),
		field.String("type").Default("text"),
		field.Text("text").Default(""),
		field.JSON("attachments", []schematype.Attachment{}).Optional().
			Annotations(entgql.Type("[Attachment!]")),
		// The platform's id; nil until an outbound message is accepted.
		field.String("external_id").Optional().Nillable(),
		field.String("parent_external_id").Optional(),
		field.String("reply_to_external_id").Optional(),
		field.Enum("delivery_status").
			NamedValues("Received", "RECEIVED", "Pending", "PENDING", "Sent", "SENT",
				"Delivered", "DELIVERED", "Read", "READ", "Failed", "FAILED",
				// An AI answer waiting for a human's approval (approveDraft
				// sends it, discardDraft drops it).
				"Draft", "DRAFT", "Discarded", "DISCARDED").
			Default("RECEIVED"),
		field.String("error_code").Optional(),
		field.String("error_message").Optional(),
		field.JSON("metadata", map[string]string{}).Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
		// When the platform says the message was written.
		field.Time("sent_at").Default(time.Now).
			Annotations(entgql.OrderField("SENT_AT")),
		field.Time("edited_at").Optional().Nillable(),
		field.Time("deleted_at").Optional().Nillable(),
		// A review's stars (1-5); nil for everything else.
		field.Int("rating").Optional().Nillable().Range(1, 5),
		// Set on a reply the platform replaced with a later one (a review
		// has one reply: a new one takes its place), with the message that
		// replaced it. The platform's id moves to the new reply.
		field.String("replaced_by_id").GoType(pulid.ID("")).Optional().Nillable().
			Annotations(entgql.Type("ID"), entgql.Skip(entgql.SkipWhereInput)),
		field.Time("replaced_at").Optional().Nillable(),
		// Set on the inbound message whose handoff to a human is open, with
		// the reason; cleared with the conversation's. In a comment thread
		// it says which commenter a person must answer: the agent still
		// answers the others (core/agent).
		field.String("handoff_reason").Optional(),
		// Inbound messages' sentiment (core/sentiment); score in [-1,1].
		field.Enum("sentiment_label").NamedValues(sentimentValues...).Optional().Nillable(),
		field.Float("sentiment_score").Optional().Nillable(),
	}
}

// Edges of the Message.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Required().Immutable(),
		edge.To("contact", Contact.Type).Field("contact_id").Unique(),
		// The agent's run on this inbound message, if any.
		edge.To("agent_run", AgentRun.Type).Unique(),
	}
}

// Indexes of the Message.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "external_id").Unique(),
		// A conversation's messages in time order, ties broken by ID, as
		// every page of messages(orderBy: SENT_AT) asks: the inbox's last
		// message per conversation reads one index entry, whatever the
		// conversation's length (with (conversation_id, sent_at) alone it
		// read all of them and sorted). Replaces that index (store.Migrate
		// drops it from databases made before).
		index.Fields("conversation_id", "sent_at", "id"),
		// A conversation's messages in ID order, the default order of
		// messages(...): a thread's first page and messages(last: 1)
		// read as many index entries as they return, however long the
		// conversation (by the index above they read all of its messages
		// and sorted them).
		index.Fields("conversation_id", "id"),
		// Analytics collects the messages of a time window (the tail
		// since the rollup watermark, partial hours) by workspace.
		index.Fields("workspace_id", "sent_at"),
	}
}

// Annotations of the Message.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
