package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/schematype"
)

func TestDecideReview(t *testing.T) {
	t.Parallel()
	set := agent.DefaultSettings()
	good := &knowledge.Answer{Text: "Yes, we have oat milk.", Confidence: 0.8}
	base := agent.ReviewFacts{Mode: agent.ModeAuto, Stars: 5, Text: "Lovely place", Sentiment: ai.Sentiment{Score: 0.6}}
	cases := []struct {
		name     string
		edit     func(f *agent.ReviewFacts)
		decision agentrun.Decision
		reason   string
		draft    bool
	}{
		{"auto answers", func(*agent.ReviewFacts) {}, agentrun.DecisionSent, "answered", false},
		{"draft drafts", func(f *agent.ReviewFacts) { f.Mode = agent.ModeDraft }, agentrun.DecisionDrafted, "draft mode", false},
		{"off skips", func(f *agent.ReviewFacts) { f.Mode = agent.ModeOff; f.Stars = 1 }, agentrun.DecisionSkipped, "off", false},
		{"rating only answered", func(f *agent.ReviewFacts) { f.Text = "" }, agentrun.DecisionSent, "answered", false},
		{"1 star to a person", func(f *agent.ReviewFacts) { f.Stars = 1; f.Mode = agent.ModeDraft }, agentrun.DecisionHandedOff, "1-star review", true},
		{"2 stars to a person", func(f *agent.ReviewFacts) { f.Stars = 2; f.Text = "" }, agentrun.DecisionHandedOff, "2-star review", true},
		{"asks for a person", func(f *agent.ReviewFacts) { f.Text = "Can a real human call me?" }, agentrun.DecisionHandedOff, "asked for a person", true},
		{"strongly negative", func(f *agent.ReviewFacts) { f.Stars = 3; f.Sentiment.Score = -0.9 }, agentrun.DecisionHandedOff, "strongly negative", true},
		{"already handed off", func(f *agent.ReviewFacts) { f.HandoffReason = "taken" }, agentrun.DecisionHandedOff, "already handed off", false},
		{"question answered", func(f *agent.ReviewFacts) { f.Question = "Do you have oat milk?"; f.Answer = good }, agentrun.DecisionSent, "answered", false},
		{"question not answered, auto", func(f *agent.ReviewFacts) { f.Question = "Parking?"; f.Answer = &knowledge.Answer{Refused: true} },
			agentrun.DecisionHandedOff, "does not answer the review's question", true},
		{"question not answered, draft", func(f *agent.ReviewFacts) {
			f.Mode = agent.ModeDraft
			f.Question = "Parking?"
			f.Answer = &knowledge.Answer{Refused: true}
		}, agentrun.DecisionDrafted, "complete the draft", false},
		{"question half answered", func(f *agent.ReviewFacts) {
			f.Question = "Blue mugs?"
			f.Answer = &knowledge.Answer{Text: "We sell red mugs.", Confidence: 0.7, Unsupported: []string{"blue"}}
		}, agentrun.DecisionHandedOff, `"blue"`, true},
	}
	for _, c := range cases {
		f := base
		c.edit(&f)
		v := agent.DecideReview(set, f)
		require.Equal(t, c.decision, v.Decision, c.name)
		require.Contains(t, v.Reason, c.reason, c.name)
		require.Equal(t, c.draft, v.Draft, c.name)
		require.Equal(t, c.draft, v.NewHandoff, c.name)
		require.False(t, v.SendAway || v.SendHandoff, "nothing canned is posted under a public review")
	}
	f := base
	f.Question = "Do you have oat milk?"
	require.True(t, agent.DecideReview(set, f).NeedAnswer, "a question asks the knowledge base first")
}

func TestReviewMode(t *testing.T) {
	t.Parallel()
	var def schematype.ReviewPolicy
	require.Equal(t, agent.ModeDraft, agent.ReviewMode(agent.ModeAuto, def, 5), "DRAFT by default for every rating")
	auto := schematype.ReviewPolicy{FiveStars: schematype.ReviewAuto, ThreeStars: schematype.ReviewAuto, OneStar: schematype.ReviewOff}
	require.Equal(t, agent.ModeAuto, agent.ReviewMode(agent.ModeAuto, auto, 5))
	require.Equal(t, agent.ModeDraft, agent.ReviewMode(agent.ModeDraft, auto, 5), "the channel's DRAFT caps the policy")
	require.Equal(t, agent.ModeOff, agent.ReviewMode(agent.ModeAuto, auto, 1))
	require.Equal(t, agent.ModeOff, agent.ReviewMode(agent.ModeOff, auto, 5))
	require.Equal(t, agent.ModeDraft, agent.ReviewMode(agent.ModeAuto, auto, 0), "a review without stars is never AUTO")
}

func TestReviewReply(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Thank you, Ann, for the 5-star rating! We look forward to seeing you again!",
		agent.ReviewReply("Ann Smith", 5, "", ""))
	require.Equal(t, "Thank you for the 4-star review! We look forward to seeing you again!",
		agent.ReviewReply("Anonymous", 4, "Nice", ""))
	low := agent.ReviewReply("Bob", 1, "Cold coffee", "")
	require.Contains(t, low, "Thank you, Bob, for telling us")
	require.Contains(t, low, "sorry")
	require.Contains(t, low, "make it right")

	// The grounded answer is kept, but never a sentence that repeats the
	// reviewer's surname, phone, e-mail or street address.
	review := "Do you deliver to 12 Baker Street? Call me on 07700 900123 or ann.smith@example.com."
	answer := "We deliver within 5 miles for £3.50. Smith, we will call 07700900123. Write to ann.smith@example.com. We can bring it to 12 Baker Street."
	got := agent.ReviewReply("Ann Smith", 4, review, answer)
	require.Contains(t, got, "Thank you, Ann, for the 4-star review!")
	require.Contains(t, got, "We deliver within 5 miles for £3.50.")
	for _, leak := range []string{"Smith", "07700", "example.com", "Baker"} {
		require.NotContains(t, got, leak)
	}
}

func TestFirstName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ann Smith": "Ann", "  maría   josé garcía ": "maría", "Anonymous": "", "A Google User": "", "J. Doe": "",
		"user12345": "", "ann@example.com": "", "": "", "O'Brien Kelly": "O'Brien", "Jean-Luc": "Jean-Luc",
	} {
		require.Equal(t, want, agent.FirstName(in), in)
	}
}

func TestReviewQuestion(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", agent.ReviewQuestion("Cold coffee. Slow service."))
	require.Equal(t, "Do you have oat milk?", agent.ReviewQuestion("Great cake. Do you have oat milk?"))
	require.Equal(t, "Do you deliver on Sundays", agent.ReviewQuestion("Lovely. Do you deliver on Sundays"))
}

// The review policy: DRAFT for every rating by default; AUTO is refused for
// 1 and 2 stars, and a refused update changes nothing.
func TestReviewPolicySettings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		admin := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_adm", ""))
		set, err := b.agent.Settings(b.sys)
		require.NoError(t, err)
		for stars := 0; stars <= 5; stars++ {
			require.Equal(t, schematype.ReviewDraft, set.ReviewPolicy.For(stars))
		}
		auto, off := schematype.ReviewAuto, schematype.ReviewOff
		for _, up := range []agent.ReviewPolicyUpdate{{OneStar: &auto}, {TwoStars: &auto, FiveStars: &auto}, {ThreeStars: ptr(schematype.ReviewMode("SOMETIMES"))}} {
			_, err := b.agent.UpdateSettings(admin, agent.SettingsUpdate{ReviewPolicy: &up})
			require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
		}
		set, err = b.agent.Settings(b.sys)
		require.NoError(t, err)
		require.Equal(t, schematype.ReviewPolicy{}, set.ReviewPolicy, "nothing changed")
		row, err := b.agent.UpdateSettings(admin, agent.SettingsUpdate{ReviewPolicy: &agent.ReviewPolicyUpdate{FiveStars: &auto, OneStar: &off}})
		require.NoError(t, err)
		require.Equal(t, schematype.ReviewAuto, row.ReviewPolicy.For(5))
		require.Equal(t, schematype.ReviewOff, row.ReviewPolicy.For(1))
		row, err = b.agent.UpdateSettings(admin, agent.SettingsUpdate{ReviewPolicy: &agent.ReviewPolicyUpdate{FourStars: &auto}})
		require.NoError(t, err)
		require.Equal(t, schematype.ReviewAuto, row.ReviewPolicy.For(5), "modes left out keep theirs")
		require.Equal(t, schematype.ReviewAuto, row.ReviewPolicy.For(4))
	})
}

// review stores a review conversation the way Ingest does.
func (b *testBundle) review(t *testing.T, reviewer string, stars int, text string) *ent.Message {
	t.Helper()
	b.n++
	id := "accounts/1/locations/2/reviews/r" + string(rune('a'+b.n))
	ct, err := b.store.Ent.Contact.Create().SetWorkspaceID(b.ch.WorkspaceID).SetChannelID(b.ch.ID).SetExternalID(id).
		SetName(reviewer).Save(b.sys)
	require.NoError(t, err)
	conv, err := b.store.Ent.Conversation.Create().SetWorkspaceID(b.ch.WorkspaceID).SetChannelID(b.ch.ID).
		SetKind(conversation.KindReview).SetThreadID(id).SetContactID(ct.ID).SetRating(stars).Save(b.sys)
	require.NoError(t, err)
	msg, err := b.store.Ent.Message.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConversationID(conv.ID).
		SetChannelID(b.ch.ID).SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
		SetContactID(ct.ID).SetExternalID(id).SetType("review").SetText(text).SetRating(stars).SetSentAt(time.Now()).Save(b.sys)
	require.NoError(t, err)
	return msg
}

// The agent on reviews: by default (channel DRAFT, policy DRAFT) a 5-star
// review is drafted from the template, thanking by first name; a 1-star
// review goes to a person with a draft; with the policy and the channel in
// AUTO a review asking a question is answered from the knowledge base,
// with citations, without repeating the reviewer's phone number.
func TestAgentReviews(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		require.NoError(t, b.store.Ent.Channel.UpdateOneID(b.ch.ID).SetAiMode(entchannel.AiModeDraft).Exec(b.sys))

		five := b.review(t, "Ann Smith", 5, "")
		require.NoError(t, b.agent.Run(b.sys, five.ID))
		run := b.runOf(t, five)
		require.Equal(t, agentrun.DecisionDrafted, run.Decision)
		out := b.outbound(t, five.ConversationID)
		require.Len(t, out, 1)
		require.Equal(t, message.DeliveryStatusDraft, out[0].DeliveryStatus)
		require.Equal(t, "Thank you, Ann, for the 5-star rating! We look forward to seeing you again!", out[0].Text)

		one := b.review(t, "Bob Jones", 1, "Cold coffee and a rude waiter")
		require.NoError(t, b.agent.Run(b.sys, one.ID))
		run = b.runOf(t, one)
		require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
		require.Contains(t, run.Reason, "1-star review")
		conv, err := b.store.Ent.Conversation.Get(b.sys, one.ConversationID)
		require.NoError(t, err)
		require.Contains(t, conv.HandoffReason, "1-star review")
		out = b.outbound(t, one.ConversationID)
		require.Len(t, out, 1, "the person starts from a draft")
		require.Equal(t, message.DeliveryStatusDraft, out[0].DeliveryStatus)
		require.Contains(t, out[0].Text, "Thank you, Bob,")
		require.NotContains(t, out[0].Text, "Jones")
		require.Zero(t, storetest.CountJobs(t, b.store.DB, "outbound.deliver"), "nothing is sent")

		admin := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_adm", ""))
		auto := schematype.ReviewAuto
		_, err = b.agent.UpdateSettings(admin, agent.SettingsUpdate{ReviewPolicy: &agent.ReviewPolicyUpdate{FourStars: &auto}})
		require.NoError(t, err)
		require.NoError(t, b.store.Ent.Channel.UpdateOneID(b.ch.ID).SetAiMode(entchannel.AiModeAuto).Exec(b.sys))
		q := b.review(t, "Cara Lee", 4, "Great cake! How much is delivery? Text me on 07700 900123.")
		require.NoError(t, b.agent.Run(b.sys, q.ID))
		run = b.runOf(t, q)
		require.Equal(t, agentrun.DecisionSent, run.Decision, run.Reason)
		require.NotEmpty(t, run.Citations, "the fact comes from the knowledge base")
		out = b.outbound(t, q.ConversationID)
		require.Len(t, out, 1)
		require.Equal(t, message.DeliveryStatusPending, out[0].DeliveryStatus)
		require.Contains(t, out[0].Text, "Thank you, Cara, for the 4-star review!")
		require.Contains(t, out[0].Text, "£3.50")
		require.NotContains(t, out[0].Text, "07700")
		require.NotContains(t, out[0].Text, "Lee")

		// 5 stars are still DRAFT in the policy: drafted although the channel is AUTO.
		five2 := b.review(t, "Dan", 5, "Best coffee in town")
		require.NoError(t, b.agent.Run(b.sys, five2.ID))
		require.Equal(t, agentrun.DecisionDrafted, b.runOf(t, five2).Decision)

		// A review answered in Google's own interface (a backfill finds
		// both) gets no second answer.
		answered := b.review(t, "Eve", 4, "Nice")
		_, err = b.store.Ent.Message.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConversationID(answered.ConversationID).
			SetChannelID(b.ch.ID).SetDirection(message.DirectionOutbound).SetAuthorKind(message.AuthorKindAgent).
			SetExternalID(*answered.ExternalID + "/reply").SetText("Thanks Eve").SetDeliveryStatus(message.DeliveryStatusSent).Save(b.sys)
		require.NoError(t, err)
		require.NoError(t, b.agent.Run(b.sys, answered.ID))
		run = b.runOf(t, answered)
		require.Equal(t, agentrun.DecisionSkipped, run.Decision)
		require.Contains(t, run.Reason, "already has a reply")
		require.Len(t, b.outbound(t, answered.ConversationID), 1)
	})
}
