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

// AgentRun is the agent's work on one inbound message: what it decided,
// why, and what it answered. The unique inbound message makes the agent
// act at most once per message, whatever the job retries do.
type AgentRun struct{ ent.Schema }

// Mixin of the AgentRun.
func (AgentRun) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("run"), TimeMixin{}, TenantMixin{}}
}

// Fields of the AgentRun.
func (AgentRun) Fields() []ent.Field {
	return []ent.Field{
		field.String("message_id").GoType(pulid.ID("")).Immutable().Unique(),
		field.String("conversation_id").GoType(pulid.ID("")).Immutable(),
		field.Enum("decision").
			NamedValues("Sent", "SENT", "Drafted", "DRAFTED", "HandedOff", "HANDED_OFF", "Skipped", "SKIPPED").
			Annotations(entgql.OrderField("DECISION")),
		field.String("reason").Default(""),
		field.Text("answer").Default("").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.JSON("citations", []schematype.Citation{}).Optional().
			Annotations(entgql.Type("[Citation!]")),
		field.Float("confidence").Default(0),
		field.String("model").Default(""),
		field.String("provider").Default("").
			Comment("Which provider answered: builtin (offline) or the external one the workspace allowed; empty for template replies."),
		field.Int("latency_ms").Default(0),
		field.Int("prompt_tokens").Default(0),
		field.Int("completion_tokens").Default(0),
		// The customer's sentiment as the agent saw it, in [-1,1].
		field.Float("sentiment_score").Optional().Nillable(),
		// The answer sent or drafted, if any.
		field.String("reply_message_id").GoType(pulid.ID("")).Optional().Nillable(),
	}
}

// Edges of the AgentRun.
func (AgentRun) Edges() []ent.Edge {
	return []ent.Edge{
		// The inbound message (an O2O edge keeps its key on this side).
		edge.From("message", Message.Type).Ref("agent_run").Field("message_id").Unique().Required().Immutable(),
		edge.To("conversation", Conversation.Type).Field("conversation_id").Unique().Required().Immutable(),
		edge.To("reply", Message.Type).Field("reply_message_id").Unique(),
	}
}

// Indexes of the AgentRun.
func (AgentRun) Indexes() []ent.Index {
	return []ent.Index{index.Fields("conversation_id", "created_at"), index.Fields("workspace_id", "created_at")}
}

// Annotations of the AgentRun.
func (AgentRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
