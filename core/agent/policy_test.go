package agent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/schema/schematype"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	set := agent.DefaultSettings()
	set.HandoffKeywords = []string{"manager"}
	good := &knowledge.Answer{Text: "We open at 8am.", Confidence: 0.8}
	base := agent.Facts{Mode: agent.ModeAuto, Text: "when do you open?", InHours: true, Sentiment: ai.Sentiment{Score: 0.1}}

	cases := []struct {
		name     string
		edit     func(f *agent.Facts)
		decision agentrun.Decision
		reason   string
		newHand  bool
	}{
		{"auto sends a good answer", func(f *agent.Facts) { f.Answer = good }, agentrun.DecisionSent, "answered", false},
		{"draft mode drafts", func(f *agent.Facts) { f.Mode = agent.ModeDraft; f.Answer = good }, agentrun.DecisionDrafted, "draft", false},
		{"off skips", func(f *agent.Facts) { f.Mode = agent.ModeOff; f.Text = "I want a human" }, agentrun.DecisionSkipped, "off", false},
		{"no text skips", func(f *agent.Facts) { f.Text = "  " }, agentrun.DecisionSkipped, "no text", false},
		{"asks for a human", func(f *agent.Facts) { f.Text = "I want to talk to a person" }, agentrun.DecisionHandedOff, "asked for a human", true},
		{"workspace keyword", func(f *agent.Facts) { f.Text = "get me your MANAGER" }, agentrun.DecisionHandedOff, "asked for a human", true},
		{"strongly negative", func(f *agent.Facts) { f.Sentiment.Score = -0.8 }, agentrun.DecisionHandedOff, "negative sentiment", true},
		{"window closed", func(f *agent.Facts) { f.WindowClosed = true }, agentrun.DecisionHandedOff, "window is closed", true},
		{"message cap reached", func(f *agent.Facts) {
			f.WindowClosed, f.WindowReason = true, "the platform allows 10 business messages until the customer writes again, and 10 were sent"
		}, agentrun.DecisionHandedOff, "allows 10 business messages", true},
		{"already handed off", func(f *agent.Facts) { f.HandoffReason = "delivery failed"; f.Answer = good }, agentrun.DecisionHandedOff, "already handed off: delivery failed", false},
		{"refused", func(f *agent.Facts) { f.Answer = &knowledge.Answer{Refused: true} }, agentrun.DecisionHandedOff, "no answer", true},
		{"low confidence", func(f *agent.Facts) { f.Answer = &knowledge.Answer{Text: "maybe", Confidence: 0.39} }, agentrun.DecisionHandedOff, "below the threshold", true},
		{"auto does not send an answer that leaves a word uncovered", func(f *agent.Facts) {
			f.Answer = &knowledge.Answer{Text: "The red mug is in stock.", Confidence: 0.9, Unsupported: []string{"blue"}}
		}, agentrun.DecisionHandedOff, `does not cover "blue"`, true},
		{"draft mode drafts it with a note", func(f *agent.Facts) {
			f.Mode = agent.ModeDraft
			f.Answer = &knowledge.Answer{Text: "The red mug is in stock.", Confidence: 0.9, Unsupported: []string{"blue"}}
		}, agentrun.DecisionDrafted, `does not cover "blue"`, false},
		{"a photo hands off before any model call", func(f *agent.Facts) { f.Attachments = []string{"image"} }, agentrun.DecisionHandedOff, "a photo the agent cannot see", true},
		{"a voice note too, in draft mode", func(f *agent.Facts) {
			f.Mode = agent.ModeDraft
			f.Attachments = []string{"audio"}
		}, agentrun.DecisionHandedOff, "a voice note", true},
		{"low confidence in draft mode", func(f *agent.Facts) {
			f.Mode = agent.ModeDraft
			f.Answer = &knowledge.Answer{Text: "maybe", Confidence: 0.2}
		}, agentrun.DecisionHandedOff, "below the threshold", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := base
			c.edit(&f)
			v := agent.Decide(set, f)
			require.False(t, v.NeedAnswer)
			require.Equal(t, c.decision, v.Decision)
			require.Contains(t, v.Reason, c.reason)
			require.Equal(t, c.newHand, v.NewHandoff)
			require.False(t, v.SendAway)
			require.False(t, v.SendHandoff)
		})
	}

	t.Run("asks for an answer only after the cheap checks", func(t *testing.T) {
		v := agent.Decide(set, base)
		require.True(t, v.NeedAnswer)
	})
	t.Run("threshold is the workspace's", func(t *testing.T) {
		s := set
		s.ConfidenceThreshold = 0.9
		f := base
		f.Answer = good
		require.Equal(t, agentrun.DecisionHandedOff, agent.Decide(s, f).Decision)
	})
	t.Run("outside hours a handoff sends the away message in auto mode", func(t *testing.T) {
		s := set
		s.AwayMessage = "We're closed; a person will answer tomorrow."
		f := base
		f.InHours = false
		f.Text = "can I speak to a human"
		v := agent.Decide(s, f)
		require.Equal(t, agentrun.DecisionHandedOff, v.Decision)
		require.True(t, v.SendAway)
		f.Mode = agent.ModeDraft
		require.False(t, agent.Decide(s, f).SendAway, "drafts never send on their own")
		f.Mode = agent.ModeAuto
		f.InHours = true
		require.False(t, agent.Decide(s, f).SendAway)
	})
	t.Run("a handoff sends the handoff message in direct conversations only", func(t *testing.T) {
		s := set
		f := base
		f.Text = "can I speak to a human"
		require.False(t, agent.Decide(s, f).SendHandoff, "off by default")
		s.HandoffMessage = "A person will answer you here shortly."
		v := agent.Decide(s, f)
		require.Equal(t, agentrun.DecisionHandedOff, v.Decision)
		require.True(t, v.SendHandoff)
		require.False(t, v.SendAway)
		pub := f
		pub.Public = true
		require.False(t, agent.Decide(s, pub).SendHandoff, "not under a public comment or review")
		draft := f
		draft.Mode = agent.ModeDraft
		require.False(t, agent.Decide(s, draft).SendHandoff)
		closed := f
		closed.WindowClosed = true
		require.False(t, agent.Decide(s, closed).SendHandoff)
		already := f
		already.HandoffReason = "asked for a human"
		require.False(t, agent.Decide(s, already).SendHandoff)
		// Outside hours the away message goes instead: one message.
		s.AwayMessage = "We're closed; a person will answer tomorrow."
		away := f
		away.InHours = false
		v = agent.Decide(s, away)
		require.True(t, v.SendAway)
		require.False(t, v.SendHandoff)
	})
	t.Run("outside hours a good answer is still sent", func(t *testing.T) {
		f := base
		f.InHours = false
		f.Answer = good
		require.Equal(t, agentrun.DecisionSent, agent.Decide(set, f).Decision)
	})
}

func TestInHours(t *testing.T) {
	t.Parallel()
	set := agent.DefaultSettings()
	require.True(t, set.InHours(time.Now()), "no windows: always open")
	set.Timezone = "Europe/London"
	set.BusinessHours = []schematype.BusinessHoursWindow{{Day: "MONDAY", Start: "09:00", End: "17:30"}}
	// Monday 2 March 2026, GMT (UTC+0).
	require.True(t, set.InHours(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	require.True(t, set.InHours(time.Date(2026, 3, 2, 17, 29, 0, 0, time.UTC)))
	require.False(t, set.InHours(time.Date(2026, 3, 2, 17, 30, 0, 0, time.UTC)))
	require.False(t, set.InHours(time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)), "Tuesday")
	// Monday 6 July 2026, BST (UTC+1): 08:30 UTC is 09:30 in London.
	require.True(t, set.InHours(time.Date(2026, 7, 6, 8, 30, 0, 0, time.UTC)))
	require.False(t, set.InHours(time.Date(2026, 7, 6, 16, 45, 0, 0, time.UTC)))
}
