package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// fixture is a small workspace whose every figure was computed by hand
// (see the comments of TestFixture). Times are UTC; the queries use
// Europe/Berlin, whose clocks went from 02:00 CET to 03:00 CEST on
// Sunday 2026-03-29 (01:00 UTC).
type fixture struct {
	s        *store.Store
	ws       *ent.Workspace
	sys      context.Context
	ann, bob *ent.User
	wa, gbp  *ent.Channel
	c1       *ent.Conversation
	other    *ent.Channel // another workspace's channel
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func newFixture(t *testing.T, d storetest.Dialect) *fixture {
	ctx := context.Background()
	s := storetest.Open(t, d)
	f := &fixture{s: s}
	var err error
	f.ws, err = workspace.Create(ctx, s, "Bakery")
	require.NoError(t, err)
	f.sys = tenant.NewContext(ctx, tenant.System(string(f.ws.ID), "test"))
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("test"))
	f.ann, err = s.Ent.User.Create().SetEmail("ann@example.com").SetName("Ann").Save(pctx)
	require.NoError(t, err)
	f.bob, err = s.Ent.User.Create().SetEmail("bob@example.com").SetName("Bob").Save(pctx)
	require.NoError(t, err)
	_, err = s.Ent.Membership.Create().SetWorkspaceID(f.ws.ID).SetUserID(f.ann.ID).SetRole(membership.RoleAgent).Save(pctx)
	require.NoError(t, err)
	_, err = s.Ent.Membership.Create().SetWorkspaceID(f.ws.ID).SetUserID(f.bob.ID).SetRole(membership.RoleAdmin).Save(pctx)
	require.NoError(t, err)
	sys := f.sys
	f.wa, err = s.Ent.Channel.Create().SetWorkspaceID(f.ws.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID("wa1").SetName("WhatsApp").Save(sys)
	require.NoError(t, err)
	f.gbp, err = s.Ent.Channel.Create().SetWorkspaceID(f.ws.ID).SetConnector("google").SetPlatform("google").
		SetExternalID("loc1").SetName("Store Berlin").Save(sys)
	require.NoError(t, err)
	// Business hours every day 09:00-17:00 Berlin time.
	var hours []schematype.BusinessHoursWindow
	for _, d := range []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"} {
		hours = append(hours, schematype.BusinessHoursWindow{Day: d, Start: "09:00", End: "17:00"})
	}
	_, err = s.Ent.AgentSettings.Create().SetWorkspaceID(f.ws.ID).SetTimezone("Europe/Berlin").SetBusinessHours(hours).Save(sys)
	require.NoError(t, err)

	ow, err := workspace.Create(ctx, s, "Other")
	require.NoError(t, err)
	osys := tenant.NewContext(ctx, tenant.System(string(ow.ID), "test"))
	f.other, err = s.Ent.Channel.Create().SetWorkspaceID(ow.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID("wa2").Save(osys)
	require.NoError(t, err)
	// The other workspace is busy in the same period: none of it may show.
	oc, err := s.Ent.Conversation.Create().SetWorkspaceID(ow.ID).SetChannelID(f.other.ID).SetKind(conversation.KindDirectMessage).
		SetThreadID("x").SetCreatedAt(ts("2026-03-29T10:00:00Z")).Save(osys)
	require.NoError(t, err)
	for i := range 3 {
		_, err = s.Ent.Message.Create().SetWorkspaceID(ow.ID).SetConversationID(oc.ID).SetChannelID(f.other.ID).
			SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
			SetSentAt(ts("2026-03-29T10:00:00Z").Add(time.Duration(i) * time.Minute)).Save(osys)
		require.NoError(t, err)
	}

	conv := func(ch *ent.Channel, kind conversation.Kind, thread, at string, assignee *ent.User) *ent.Conversation {
		c := s.Ent.Conversation.Create().SetWorkspaceID(f.ws.ID).SetChannelID(ch.ID).SetKind(kind).SetThreadID(thread).
			SetCreatedAt(ts(at)).SetLastMessageAt(ts(at))
		if assignee != nil {
			c.SetAssigneeID(assignee.ID)
		}
		out, err := c.Save(sys)
		require.NoError(t, err)
		return out
	}
	in := func(c *ent.Conversation, at, text string, opts ...func(*ent.MessageCreate)) *ent.Message {
		m := s.Ent.Message.Create().SetWorkspaceID(f.ws.ID).SetConversationID(c.ID).SetChannelID(c.ChannelID).
			SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).SetText(text).SetSentAt(ts(at))
		for _, o := range opts {
			o(m)
		}
		out, err := m.Save(sys)
		require.NoError(t, err)
		return out
	}
	out := func(c *ent.Conversation, at string, kind message.AuthorKind, author string, status message.DeliveryStatus) *ent.Message {
		m, err := s.Ent.Message.Create().SetWorkspaceID(f.ws.ID).SetConversationID(c.ID).SetChannelID(c.ChannelID).
			SetDirection(message.DirectionOutbound).SetAuthorKind(kind).SetAuthorID(author).SetText("reply").
			SetDeliveryStatus(status).SetSentAt(ts(at)).Save(sys)
		require.NoError(t, err)
		return m
	}
	audit := func(actor, action, target, at string, meta map[string]string) {
		_, err := s.Ent.AuditLog.Create().SetWorkspaceID(f.ws.ID).SetActor(actor).SetAction(action).
			SetTargetType("x").SetTargetID(target).SetMetadata(meta).SetCreatedAt(ts(at)).Save(sys)
		require.NoError(t, err)
	}
	run := func(c *ent.Conversation, msg *ent.Message, at string, d agentrun.Decision, reason string, reply *ent.Message) {
		r := s.Ent.AgentRun.Create().SetWorkspaceID(f.ws.ID).SetConversationID(c.ID).SetMessageID(msg.ID).
			SetDecision(d).SetReason(reason).SetCreatedAt(ts(at))
		if reply != nil {
			r.SetReplyMessageID(reply.ID)
		}
		_, err := r.Save(sys)
		require.NoError(t, err)
	}
	sentiment := func(l message.SentimentLabel, score float64) func(*ent.MessageCreate) {
		return func(m *ent.MessageCreate) { m.SetSentimentLabel(l).SetSentimentScore(score) }
	}
	rating := func(n int) func(*ent.MessageCreate) { return func(m *ent.MessageCreate) { m.SetRating(n) } }
	annA, bobA := "user:"+string(f.ann.ID), "user:"+string(f.bob.ID)
	const aiA = "system:agent"

	// Previous period: C0, answered by Ann after 20 min, resolved after 1 h.
	c0 := conv(f.wa, conversation.KindDirectMessage, "c0", "2026-03-26T10:00:00Z", f.ann)
	in(c0, "2026-03-26T10:00:00Z", "hello")
	out(c0, "2026-03-26T10:20:00Z", message.AuthorKindAgent, annA, message.DeliveryStatusSent)
	audit(annA, "conversation.resolve", string(c0.ID), "2026-03-26T11:00:00Z", nil)

	// C1 crosses midnight in Berlin (23:30 on Saturday to 01:30 on Sunday).
	f.c1 = conv(f.wa, conversation.KindDirectMessage, "c1", "2026-03-28T22:30:00Z", f.ann)
	in(f.c1, "2026-03-28T22:30:00Z", "are you open tomorrow", sentiment(message.SentimentLabelNeutral, 0.1))
	out(f.c1, "2026-03-28T23:10:00Z", message.AuthorKindAgent, annA, message.DeliveryStatusSent)
	in(f.c1, "2026-03-28T23:20:00Z", "and on monday")
	out(f.c1, "2026-03-28T23:50:00Z", message.AuthorKindAgent, annA, message.DeliveryStatusDelivered)
	audit(annA, "conversation.resolve", string(f.c1.ID), "2026-03-29T00:30:00Z", nil)

	// C2 is never answered; it arrives at 03:30 CEST, just after the change.
	c2 := conv(f.wa, conversation.KindDirectMessage, "c2", "2026-03-29T01:30:00Z", nil)
	in(c2, "2026-03-29T01:30:00Z", "hi?")

	// C3 is answered only by the AI, and resolved by Bob.
	c3 := conv(f.wa, conversation.KindDirectMessage, "c3", "2026-03-29T10:00:00Z", nil)
	q3 := in(c3, "2026-03-29T10:00:00Z", "opening hours")
	a3 := out(c3, "2026-03-29T10:00:30Z", message.AuthorKindAI, aiA, message.DeliveryStatusSent)
	run(c3, q3, "2026-03-29T10:00:30Z", agentrun.DecisionSent, "answered from the knowledge base", a3)
	audit(bobA, "conversation.resolve", string(c3.ID), "2026-03-29T12:00:00Z", nil)

	// C4 is handed off (no answer in the knowledge base) at 00:30 CEST on
	// Monday: 22:30 UTC on Sunday. The AI's handoff message answers
	// nothing; Bob answers an hour later.
	c4 := conv(f.wa, conversation.KindDirectMessage, "c4", "2026-03-29T22:30:00Z", f.bob)
	q4 := in(c4, "2026-03-29T22:30:00Z", "Do you ship to  Canada?")
	h4 := out(c4, "2026-03-29T22:30:10Z", message.AuthorKindAI, aiA, message.DeliveryStatusSent)
	run(c4, q4, "2026-03-29T22:30:10Z", agentrun.DecisionHandedOff, "the knowledge base has no answer", h4)
	out(c4, "2026-03-29T23:30:00Z", message.AuthorKindAgent, bobA, message.DeliveryStatusSent)

	// C5: a 2-star review; the AI's draft, edited and approved by Bob,
	// goes an hour later.
	c5 := conv(f.gbp, conversation.KindReview, "c5", "2026-03-30T12:00:00Z", nil)
	q5 := in(c5, "2026-03-30T12:00:00Z", "stale bread", rating(2), sentiment(message.SentimentLabelNegative, -0.5))
	d5 := out(c5, "2026-03-30T13:00:00Z", message.AuthorKindAI, aiA, message.DeliveryStatusSent)
	run(c5, q5, "2026-03-30T12:01:00Z", agentrun.DecisionDrafted, "draft mode: waiting for approval", d5)
	audit(bobA, "message.draft.approve", string(d5.ID), "2026-03-30T13:00:00Z", map[string]string{"edited": "true"})

	// C6: a 5-star review on Saturday morning; its draft is discarded.
	c6 := conv(f.gbp, conversation.KindReview, "c6", "2026-03-28T09:00:00Z", nil)
	q6 := in(c6, "2026-03-28T09:00:00Z", "best croissants", rating(5), sentiment(message.SentimentLabelPositive, 0.8))
	d6 := out(c6, "2026-03-28T09:01:00Z", message.AuthorKindAI, aiA, message.DeliveryStatusDiscarded)
	run(c6, q6, "2026-03-28T09:01:00Z", agentrun.DecisionDrafted, "draft mode: waiting for approval", d6)
	audit(bobA, "message.draft.discard", string(d6.ID), "2026-03-28T10:00:00Z", nil)

	// Publishing: one target published on WhatsApp, one failed on Google.
	p, err := s.Ent.Post.Create().SetWorkspaceID(f.ws.ID).SetAuthor(bobA).SetText("spring menu").Save(sys)
	require.NoError(t, err)
	_, err = s.Ent.PostTarget.Create().SetWorkspaceID(f.ws.ID).SetPostID(p.ID).SetChannelID(f.wa.ID).
		SetStatus(posttarget.StatusPublished).SetPublishedAt(ts("2026-03-29T15:00:00Z")).Save(sys)
	require.NoError(t, err)
	_, err = s.Ent.PostTarget.Create().SetWorkspaceID(f.ws.ID).SetPostID(p.ID).SetChannelID(f.gbp.ID).
		SetStatus(posttarget.StatusFailed).SetFailedAt(ts("2026-03-30T15:00:00Z")).SetUpdatedAt(ts("2026-03-30T15:00:00Z")).Save(sys)
	require.NoError(t, err)
	return f
}

// The range: Saturday 28 to Monday 30 March 2026 in Berlin, 71 hours
// (Sunday has 23). The previous period is the 71 hours before.
var fixtureRange = analytics.Range{From: ts("2026-03-27T23:00:00Z"), To: ts("2026-03-30T22:00:00Z"), Timezone: "Europe/Berlin"}

func (f *fixture) admin() context.Context {
	return tenant.NewContext(context.Background(), tenant.Member(string(f.ws.ID), tenant.RoleAdmin, "key_admin", ""))
}

func num(v float64) *float64 { return &v }

// sketched is what a percentile reads when the exact nearest-rank value
// is v. The histogram's bucket of v holds only v in this fixture, and a
// bucket holding one distinct value reads exactly it (docs/analytics.md,
// Percentiles), so the hand-computed exact value is what the query
// answers.
func sketched(v int64) *float64 { return num(float64(v)) }

func requireFigure(t *testing.T, s analytics.Summary, name string, value, previous *float64) {
	t.Helper()
	f, ok := s[name]
	require.True(t, ok, name)
	if value == nil {
		require.Nil(t, f.Value, name)
	} else {
		require.NotNil(t, f.Value, name)
		require.InDelta(t, *value, *f.Value, 1e-9, name)
	}
	if previous == nil {
		require.Nil(t, f.Previous, name+" previous")
	} else {
		require.NotNil(t, f.Previous, name+" previous")
		require.InDelta(t, *previous, *f.Previous, 1e-9, name+" previous")
	}
}

// checkFixture asserts every hand-computed figure through svc.
func checkFixture(t *testing.T, f *fixture, svc *analytics.Service) {
	ctx := f.admin()
	r, err := svc.Open(ctx, analytics.Request{Range: fixtureRange})
	require.NoError(t, err)
	sum, err := r.Summary(ctx)
	require.NoError(t, err)
	// C1..C6 opened (C0 before); C1 and C3 resolved (C0 before); open at
	// the end: C2, C4, C5, C6 (none at the end of the previous period).
	requireFigure(t, sum, "CONVERSATIONS_OPENED", num(6), num(1))
	require.InDelta(t, 5.0, *sum["CONVERSATIONS_OPENED"].Change, 1e-9)
	requireFigure(t, sum, "CONVERSATIONS_RESOLVED", num(2), num(1))
	requireFigure(t, sum, "CONVERSATIONS_OPEN", num(4), num(0))
	require.Nil(t, sum["CONVERSATIONS_OPEN"].Change, "no change from zero")
	// In: C1 2, C2 1, C3 1, C4 1, C5 1, C6 1. Out: Ann 2 (C1), the AI's
	// answer (C3), handoff message (C4) and approved draft (C5), Bob 1
	// (C4); the discarded draft (C6) is not a message out.
	requireFigure(t, sum, "MESSAGES_IN", num(7), num(1))
	requireFigure(t, sum, "MESSAGES_OUT", num(6), num(1))
	// First responses: C1 2400 s, C3 30 s, C4 3600 s (the handoff message
	// is no response), C5 3600 s. Sorted 30, 2400, 3600, 3600.
	requireFigure(t, sum, "FIRST_RESPONSES", num(4), num(1))
	requireFigure(t, sum, "FIRST_RESPONSE_TIME", num(9630.0/4), num(1200))
	requireFigure(t, sum, "FIRST_RESPONSE_TIME_MEDIAN", sketched(2400), sketched(1200))
	requireFigure(t, sum, "FIRST_RESPONSE_TIME_P90", sketched(3600), sketched(1200))
	// Replies: C1 2400 and 1800, C3 30, C4 3600, C5 3600.
	requireFigure(t, sum, "REPLIES", num(5), num(1))
	requireFigure(t, sum, "REPLY_TIME", num(11430.0/5), num(1200))
	requireFigure(t, sum, "REPLY_TIME_MEDIAN", sketched(2400), sketched(1200))
	requireFigure(t, sum, "REPLY_TIME_P90", sketched(3600), sketched(1200))
	// Resolutions: C1 and C3 after 2 h each; C0 after 1 h.
	requireFigure(t, sum, "RESOLUTION_TIME", num(7200), num(3600))
	requireFigure(t, sum, "RESOLUTION_TIME_MEDIAN", sketched(7200), sketched(3600))
	requireFigure(t, sum, "RESOLUTION_TIME_P90", sketched(7200), sketched(3600))
	requireFigure(t, sum, "AI_ANSWERS_SENT", num(1), num(0))
	requireFigure(t, sum, "AI_DRAFTS_CREATED", num(2), num(0))
	requireFigure(t, sum, "AI_DRAFTS_APPROVED", num(1), num(0))
	requireFigure(t, sum, "AI_DRAFTS_EDITED", num(1), num(0))
	requireFigure(t, sum, "AI_DRAFTS_DISCARDED", num(1), num(0))
	requireFigure(t, sum, "AI_HANDOFFS", num(1), num(0))
	requireFigure(t, sum, "KNOWLEDGE_BASE_REFUSALS", num(1), num(0))
	requireFigure(t, sum, "RESOLVED_WITHOUT_PERSON", num(1), num(0))
	requireFigure(t, sum, "SENTIMENT_MESSAGES", num(3), num(0))
	requireFigure(t, sum, "SENTIMENT_AVERAGE", num((0.1-0.5+0.8)/3), nil)
	requireFigure(t, sum, "REVIEWS", num(2), num(0))
	requireFigure(t, sum, "REVIEW_RATING", num(3.5), nil)
	requireFigure(t, sum, "REVIEWS_REPLIED", num(1), num(0))
	requireFigure(t, sum, "REVIEW_REPLY_TIME", num(3600), nil)
	requireFigure(t, sum, "POSTS_PUBLISHED", num(1), num(0))
	requireFigure(t, sum, "POSTS_FAILED", num(1), num(0))

	// Days in Berlin: Saturday (24 h), Sunday (23 h), Monday (24 h).
	series, err := r.Timeseries(ctx, []analytics.Metric{"MESSAGES_IN", "MESSAGES_OUT", "CONVERSATIONS_OPENED", "CONVERSATIONS_OPEN", "FIRST_RESPONSE_TIME"}, analytics.Day)
	require.NoError(t, err)
	require.Len(t, series, 5)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	days := []time.Time{
		time.Date(2026, 3, 28, 0, 0, 0, 0, berlin), time.Date(2026, 3, 29, 0, 0, 0, 0, berlin),
		time.Date(2026, 3, 30, 0, 0, 0, 0, berlin), time.Date(2026, 3, 31, 0, 0, 0, 0, berlin),
	}
	for _, s := range series {
		require.Len(t, s.Points, 3)
		for i, p := range s.Points {
			require.True(t, p.Start.Equal(days[i]), "%s starts %s", s.Metric, p.Start)
			require.True(t, p.End.Equal(days[i+1]))
		}
	}
	require.Equal(t, 23*time.Hour, series[0].Points[1].End.Sub(series[0].Points[1].Start))
	values := func(s analytics.Series) []any {
		var out []any
		for _, p := range s.Points {
			if p.Value == nil {
				out = append(out, nil)
			} else {
				out = append(out, *p.Value)
			}
		}
		return out
	}
	// In: Saturday C6 and C1's first message (23:30); Sunday C1's second
	// (00:20), C2, C3; Monday C4 (00:30 CEST, still Sunday in UTC) and C5.
	require.Equal(t, []any{2.0, 3.0, 2.0}, values(series[0]))
	require.Equal(t, []any{0.0, 3.0, 3.0}, values(series[1]))
	require.Equal(t, []any{2.0, 2.0, 2.0}, values(series[2]))
	// Open at the end of each day: C6, C1 | C6, C2 | C6, C2, C4, C5.
	require.Equal(t, []any{2.0, 2.0, 4.0}, values(series[3]))
	// First responses: none Saturday; Sunday C1 2400, C3 30; Monday C4
	// 3600, C5 3600.
	require.Equal(t, []any{nil, 1215.0, 3600.0}, values(series[4]))

	hours, err := r.Timeseries(ctx, []analytics.Metric{"MESSAGES_IN"}, analytics.Hour)
	require.NoError(t, err)
	require.Len(t, hours[0].Points, 71)
	total := 0.0
	for _, p := range hours[0].Points {
		total += *p.Value
	}
	require.Equal(t, 7.0, total)

	rows := func(m analytics.Metric, by analytics.Dimension) map[string]float64 {
		t.Helper()
		rs, err := r.Breakdown(ctx, m, by)
		require.NoError(t, err)
		out := map[string]float64{}
		for _, row := range rs {
			out[row.Label] = *row.Value
		}
		return out
	}
	require.Equal(t, map[string]float64{"WhatsApp": 5, "Store Berlin": 2}, rows("MESSAGES_IN", analytics.ByChannel))
	require.Equal(t, map[string]float64{"whatsapp": 5, "google": 2}, rows("MESSAGES_IN", analytics.ByPlatform))
	require.Equal(t, map[string]float64{"DIRECT_MESSAGE": 5, "REVIEW": 2}, rows("MESSAGES_IN", analytics.ByKind))
	require.Equal(t, map[string]float64{"Ann": 2, "Bob": 1, "AI agent": 3}, rows("MESSAGES_OUT", analytics.ByMember))
	require.Equal(t, map[string]float64{"Ann": 2400, "Bob": 3600, "AI agent": 1815}, rows("FIRST_RESPONSE_TIME", analytics.ByMember))
	require.Equal(t, map[string]float64{"Ann": 1, "Bob": 1}, rows("CONVERSATIONS_RESOLVED", analytics.ByMember))
	require.Equal(t, map[string]float64{"NO_ANSWER": 1}, rows("AI_HANDOFFS", analytics.ByReason))
	require.Equal(t, map[string]float64{"2": 1, "5": 1}, rows("REVIEWS", analytics.ByRating))
	require.Equal(t, map[string]float64{"Store Berlin": 3.5}, rows("REVIEW_RATING", analytics.ByChannel))
	require.Equal(t, map[string]float64{"NEGATIVE": 1, "NEUTRAL": 1, "POSITIVE": 1}, rows("SENTIMENT_MESSAGES", analytics.BySentiment))
	require.Equal(t, map[string]float64{"Ann": 1, "Bob": 1, "Unassigned": 4}, rows("CONVERSATIONS_OPENED", analytics.ByAssignee))

	refusals, err := r.Refusals(ctx, 10)
	require.NoError(t, err)
	require.Len(t, refusals, 1)
	require.Equal(t, 1, refusals[0].Count)
	require.Equal(t, "Do you ship to  Canada?", refusals[0].Question)

	// Within business hours (09:00-17:00 Berlin): C1 and C4 answered at
	// night count 0 s, C3 30 s, C5 3600 s; C0 1200 s.
	rb, err := svc.Open(ctx, analytics.Request{Range: fixtureRange, BusinessHours: true})
	require.NoError(t, err)
	bs, err := rb.Summary(ctx)
	require.NoError(t, err)
	requireFigure(t, bs, "FIRST_RESPONSE_TIME", num(3630.0/4), num(1200))
	// Sorted 0, 0, 30, 3600: the lower middle is 0.
	requireFigure(t, bs, "FIRST_RESPONSE_TIME_MEDIAN", sketched(0), sketched(1200))
	requireFigure(t, bs, "FIRST_RESPONSE_TIME_P90", sketched(3600), sketched(1200))
	requireFigure(t, bs, "MESSAGES_IN", num(7), num(1))

	// Filters: the Google channel only; reviews only.
	rf, err := svc.Open(ctx, analytics.Request{Range: fixtureRange, Filter: analytics.Filter{ChannelIDs: []pulid.ID{f.gbp.ID}}})
	require.NoError(t, err)
	fs, err := rf.Summary(ctx)
	require.NoError(t, err)
	requireFigure(t, fs, "MESSAGES_IN", num(2), num(0))
	requireFigure(t, fs, "POSTS_FAILED", num(1), num(0))
	requireFigure(t, fs, "POSTS_PUBLISHED", num(0), num(0))
	rk, err := svc.Open(ctx, analytics.Request{Range: fixtureRange, Filter: analytics.Filter{Kinds: []string{"REVIEW"}}})
	require.NoError(t, err)
	ks, err := rk.Summary(ctx)
	require.NoError(t, err)
	requireFigure(t, ks, "CONVERSATIONS_OPENED", num(2), num(0))
	requireFigure(t, ks, "CONVERSATIONS_OPEN", num(2), num(0))

	// Ann, an agent, sees her own figures: C1 (and C0 before).
	annCtx := tenant.NewContext(context.Background(), tenant.SessionMember(string(f.ws.ID), tenant.RoleAgent, string(f.ann.ID), "ses"))
	ra, err := svc.Open(annCtx, analytics.Request{Range: fixtureRange})
	require.NoError(t, err)
	as, err := ra.Summary(annCtx)
	require.NoError(t, err)
	requireFigure(t, as, "CONVERSATIONS_OPENED", num(1), num(1))
	requireFigure(t, as, "MESSAGES_IN", num(2), num(1))
	requireFigure(t, as, "FIRST_RESPONSE_TIME", num(2400), num(1200))
	requireFigure(t, as, "POSTS_PUBLISHED", num(0), num(0))
	require.Equal(t, map[string]float64{"Ann": 1}, func() map[string]float64 {
		rs, err := ra.Breakdown(annCtx, "CONVERSATIONS_OPENED", analytics.ByAssignee)
		require.NoError(t, err)
		out := map[string]float64{}
		for _, row := range rs {
			out[row.Label] = *row.Value
		}
		return out
	}())
	neg, err := r.MostNegative(ctx, 5)
	require.NoError(t, err)
	require.Empty(t, neg, "no conversation has a sentiment score in this fixture")
}

func TestFixture(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := newFixture(t, d)
		t.Run("base tables", func(t *testing.T) {
			checkFixture(t, f, &analytics.Service{Store: f.s, NoRollups: true})
		})
		// Rolled up to the middle of the range (the watermark at Sunday
		// 12:00 UTC): rollups before, base tables after.
		half := &analytics.Service{Store: f.s, Settle: time.Hour, Now: func() time.Time { return ts("2026-03-29T13:30:00Z") }}
		_, err := half.Roll(context.Background(), string(f.ws.ID), true)
		require.NoError(t, err)
		t.Run("half rolled up", func(t *testing.T) { checkFixture(t, f, half) })
		// Rolled up completely.
		all := &analytics.Service{Store: f.s, Now: func() time.Time { return ts("2026-05-01T00:00:00Z") }}
		_, err = all.Roll(context.Background(), string(f.ws.ID), false)
		require.NoError(t, err)
		t.Run("rolled up", func(t *testing.T) { checkFixture(t, f, all) })
	})
}

func TestBadInputAndAccess(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := newFixture(t, d)
		svc := &analytics.Service{Store: f.s}
		ctx := f.admin()
		code := func(err error) apperr.Code { return apperr.CodeOf(err) }
		open := func(ctx context.Context, req analytics.Request) error {
			_, err := svc.Open(ctx, req)
			return err
		}
		from := ts("2026-01-01T00:00:00Z")
		require.Equal(t, apperr.CodeBadUserInput, code(open(ctx, analytics.Request{Range: analytics.Range{From: from, To: from.AddDate(0, 0, 401)}})))
		require.NoError(t, open(ctx, analytics.Request{Range: analytics.Range{From: from, To: from.AddDate(0, 0, 400)}}))
		require.Equal(t, apperr.CodeBadUserInput, code(open(ctx, analytics.Request{Range: analytics.Range{From: from, To: from.Add(-time.Hour)}})))
		require.Equal(t, apperr.CodeBadUserInput, code(open(ctx, analytics.Request{Range: analytics.Range{From: from, To: from.Add(time.Hour), Timezone: "Mars/Olympus"}})))
		require.Equal(t, apperr.CodeBadUserInput, code(open(ctx, analytics.Request{Range: analytics.Range{From: from, To: from.Add(time.Hour), Timezone: "Local"}})))
		rg := analytics.Range{From: from, To: from.Add(time.Hour)}
		require.Equal(t, apperr.CodeNotFound, code(open(ctx, analytics.Request{Range: rg, Filter: analytics.Filter{ChannelIDs: []pulid.ID{f.other.ID}}})))
		require.Equal(t, apperr.CodeNotFound, code(open(ctx, analytics.Request{Range: rg, Filter: analytics.Filter{ChannelIDs: []pulid.ID{f.wa.ID, f.other.ID}}})))
		require.Equal(t, apperr.CodeNotFound, code(open(ctx, analytics.Request{Range: rg, Filter: analytics.Filter{LabelIDs: []pulid.ID{"lbl_nope"}}})))
		require.Equal(t, apperr.CodeBadUserInput, code(open(ctx, analytics.Request{Range: rg, Filter: analytics.Filter{Kinds: []string{"FAX"}}})))
		r, err := svc.Open(ctx, analytics.Request{Range: fixtureRange})
		require.NoError(t, err)
		_, err = r.Timeseries(ctx, []analytics.Metric{"NOPE"}, analytics.Day)
		require.Equal(t, apperr.CodeBadUserInput, code(err))
		_, err = r.Breakdown(ctx, "MESSAGES_IN", analytics.ByMember)
		require.Equal(t, apperr.CodeBadUserInput, code(err))

		// Roles: an analyst reads; an agent reads only their own figures,
		// and not through an agent's API key; no viewer reads nothing.
		analyst := tenant.NewContext(context.Background(), tenant.Member(string(f.ws.ID), tenant.RoleAnalyst, "key_an", ""))
		require.NoError(t, open(analyst, analytics.Request{Range: fixtureRange}))
		annCtx := tenant.NewContext(context.Background(), tenant.SessionMember(string(f.ws.ID), tenant.RoleAgent, string(f.ann.ID), "ses"))
		require.Equal(t, apperr.CodeForbidden, code(open(annCtx, analytics.Request{Range: fixtureRange, Filter: analytics.Filter{AssigneeIDs: []pulid.ID{f.bob.ID}}})))
		require.NoError(t, open(annCtx, analytics.Request{Range: fixtureRange, Filter: analytics.Filter{AssigneeIDs: []pulid.ID{f.ann.ID}}}))
		agentKey := tenant.NewContext(context.Background(), tenant.Member(string(f.ws.ID), tenant.RoleAgent, "key_ag", ""))
		require.Equal(t, apperr.CodeForbidden, code(open(agentKey, analytics.Request{Range: fixtureRange})))
		require.Error(t, open(context.Background(), analytics.Request{Range: fixtureRange}))

		// The other workspace sees only its own three messages.
		otherCtx := tenant.NewContext(context.Background(), tenant.Member(string(f.other.WorkspaceID), tenant.RoleOwner, "key_o", ""))
		ro, err := svc.Open(otherCtx, analytics.Request{Range: fixtureRange})
		require.NoError(t, err)
		s, err := ro.Summary(otherCtx)
		require.NoError(t, err)
		requireFigure(t, s, "MESSAGES_IN", num(3), num(0))
		requireFigure(t, s, "CONVERSATIONS_OPENED", num(1), num(0))
		rows, err := ro.Breakdown(otherCtx, "MESSAGES_IN", analytics.ByChannel)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, string(f.other.ID), rows[0].Key)
	})
}
