package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// AgentSettings are a workspace's rules for the AI agent; at most one row
// per workspace, created on the first update (defaults apply until then).
type AgentSettings struct{ ent.Schema }

// Mixin of the AgentSettings.
func (AgentSettings) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ags"), TimeMixin{}, TenantMixin{}}
}

// Fields of the AgentSettings.
func (AgentSettings) Fields() []ent.Field {
	return []ent.Field{
		// Answers below it are not sent: the conversation goes to a human.
		field.Float("confidence_threshold").Default(0.4),
		// Sentiment scores at or below it hand off (scores are in [-1,1]).
		field.Float("negative_sentiment_threshold").Default(-0.6),
		// Extra words or phrases that ask for a human.
		field.Strings("handoff_keywords").Optional(),
		// IANA time zone of the business hours.
		field.String("timezone").Default("UTC"),
		// No windows means always open.
		field.JSON("business_hours", []schematype.BusinessHoursWindow{}).Optional().
			Annotations(entgql.Type("[BusinessHoursWindow!]")),
		// Sent (AUTO channels) when the agent hands off outside business
		// hours, so nobody waits in silence; empty sends nothing.
		field.String("away_message").Default(""),
		// Sent (AUTO, direct messages only) when the agent hands a
		// conversation to a person, so the customer knows someone will
		// answer; empty sends nothing.
		field.String("handoff_message").Default(""),
		// Style instructions for chat-model providers ("friendly, short").
		field.String("tone").Default(""),
		// Appended to every answer the agent writes.
		field.String("signature").Default(""),
		// What the agent does with reviews, by star rating (an empty mode
		// is DRAFT).
		field.JSON("review_policy", schematype.ReviewPolicy{}).Optional().
			Annotations(entgql.Type("ReviewPolicy!")),
	}
}

// Indexes of the AgentSettings.
func (AgentSettings) Indexes() []ent.Index {
	return []ent.Index{index.Fields("workspace_id").Unique().StorageKey("agentsettings_workspace_unique")}
}

// Annotations of the AgentSettings.
func (AgentSettings) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField)}
}
