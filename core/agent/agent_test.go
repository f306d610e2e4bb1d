package agent_test

import (
	"context"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
)

type testBundle struct {
	store  *store.Store
	agent  *agent.Service
	ws     string
	sys    context.Context // the worker's viewer
	member context.Context
	ch     *ent.Channel
	n      int
}

const kbDoc = `# Crumb & Co

## Delivery
We deliver within 5 miles for a fee of £3.50. Orders over £25 are delivered free.

## Opening hours
Riverside is open Tuesday to Friday from 8am to 4pm.
`

func setup(t *testing.T, d storetest.Dialect) *testBundle {
	t.Helper()
	ctx := context.Background()
	s := storetest.Open(t, d)
	vd := vector.DialectSQLite
	if s.Dialect == dialect.Postgres {
		vd = vector.DialectPostgres
	}
	vs, err := vector.NewEmbedded(s.DB, vd)
	require.NoError(t, err)
	require.NoError(t, vs.Migrate(ctx))
	w, err := workspace.Create(ctx, s, "Crumb")
	require.NoError(t, err)
	ws := string(w.ID)
	sys := tenant.NewContext(ctx, tenant.System(ws, "test"))
	provider := ai.NewBuiltin()
	kb := &knowledge.Service{Store: s, Provider: provider, Vectors: vs}
	in := &inbox.Service{Store: s}
	b := &testBundle{
		store:  s,
		agent:  &agent.Service{Store: s, Inbox: in, Knowledge: kb, Provider: provider},
		ws:     ws,
		sys:    sys,
		member: tenant.NewContext(ctx, tenant.Member(ws, tenant.RoleAgent, "key_1", "")),
	}
	doc, err := kb.Add(b.member, knowledge.DocumentInput{Title: "Crumb & Co", Content: kbDoc, Format: knowledge.FormatMarkdown})
	require.NoError(t, err)
	require.NoError(t, kb.Index(sys, jobargs.KBIndex{WorkspaceID: ws, DocumentID: string(doc.ID), Version: doc.Version}, false))
	b.ch, err = s.Ent.Channel.Create().SetWorkspaceID(w.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID("1065").SetName("WA").SetAiMode(entchannel.AiModeAuto).Save(sys)
	require.NoError(t, err)
	return b
}

// addDoc indexes another Markdown document.
func (b *testBundle) addDoc(t *testing.T, title, content string) {
	t.Helper()
	doc, err := b.agent.Knowledge.Add(b.member, knowledge.DocumentInput{Title: title, Content: content, Format: knowledge.FormatMarkdown})
	require.NoError(t, err)
	require.NoError(t, b.agent.Knowledge.Index(b.sys, jobargs.KBIndex{WorkspaceID: b.ws, DocumentID: string(doc.ID), Version: doc.Version}, false))
}

// inbound stores a customer's DM in a new conversation, the way Ingest does.
func (b *testBundle) inbound(t *testing.T, text string, lastInbound time.Time) *ent.Message {
	t.Helper()
	b.n++
	conv, err := b.store.Ent.Conversation.Create().SetWorkspaceID(b.ch.WorkspaceID).SetChannelID(b.ch.ID).
		SetKind(conversation.KindDirectMessage).SetThreadID("thread-" + string(rune('a'+b.n))).
		SetLastInboundAt(lastInbound).Save(b.sys)
	require.NoError(t, err)
	msg, err := b.store.Ent.Message.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConversationID(conv.ID).
		SetChannelID(b.ch.ID).SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
		SetExternalID("wamid." + string(rune('a'+b.n))).SetText(text).SetSentAt(lastInbound).Save(b.sys)
	require.NoError(t, err)
	return msg
}

func (b *testBundle) runOf(t *testing.T, msg *ent.Message) *ent.AgentRun {
	t.Helper()
	r, err := b.store.Ent.AgentRun.Query().Where(agentrun.MessageID(msg.ID)).Only(b.sys)
	require.NoError(t, err)
	return r
}

func (b *testBundle) outbound(t *testing.T, convID pulid.ID) []*ent.Message {
	t.Helper()
	out, err := b.store.Ent.Message.Query().Where(message.ConversationID(convID), message.DirectionEQ(message.DirectionOutbound)).All(b.sys)
	require.NoError(t, err)
	return out
}

func TestAgentRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		now := time.Now()

		t.Run("auto answers once", func(t *testing.T) {
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionSent, run.Decision)
			require.NotEmpty(t, run.Citations)
			require.GreaterOrEqual(t, run.Confidence, ai.DefaultConfidenceThreshold)
			require.NotNil(t, run.ReplyMessageID)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Contains(t, out[0].Text, "£3.50")
			require.Equal(t, message.AuthorKindAI, out[0].AuthorKind)
			require.Equal(t, message.DeliveryStatusPending, out[0].DeliveryStatus)
			jobs := storetest.CountJobs(t, b.store.DB, "outbound.deliver")
			require.Equal(t, 1, jobs)

			// A retried job does nothing.
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			require.Len(t, b.outbound(t, msg.ConversationID), 1)
			require.Equal(t, jobs, storetest.CountJobs(t, b.store.DB, "outbound.deliver"))
			n, err := b.store.Ent.AgentRun.Query().Where(agentrun.MessageID(msg.ID)).Count(b.sys)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})

		handedOff := func(t *testing.T, text string, last time.Time, reason string) {
			t.Helper()
			msg := b.inbound(t, text, last)
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
			require.Contains(t, run.Reason, reason)
			require.Nil(t, run.ReplyMessageID)
			require.Empty(t, b.outbound(t, msg.ConversationID), "nothing is sent")
			conv, err := b.store.Ent.Conversation.Get(b.sys, msg.ConversationID)
			require.NoError(t, err)
			require.Equal(t, conversation.StatusOpen, conv.Status)
			require.Contains(t, conv.HandoffReason, reason)
		}
		t.Run("asks for a person", func(t *testing.T) { handedOff(t, "I want to talk to a person", now, "asked for a human") })
		t.Run("outside the knowledge base", func(t *testing.T) {
			handedOff(t, "do you have parking for bicycles near the station?", now, "")
		})
		t.Run("strongly negative", func(t *testing.T) {
			handedOff(t, "This is the WORST service ever, absolutely disgusting and useless!!! 😡", now, "negative sentiment")
		})
		t.Run("window closed", func(t *testing.T) {
			handedOff(t, "how much is delivery?", now.Add(-25*time.Hour), "window is closed")
		})

		t.Run("already handed off", func(t *testing.T) {
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetHandoffReason("a human took it").Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			require.Equal(t, agentrun.DecisionHandedOff, b.runOf(t, msg).Decision)
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})

		t.Run("conversation override off", func(t *testing.T) {
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeOff).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			require.Equal(t, agentrun.DecisionSkipped, b.runOf(t, msg).Decision)
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})

		t.Run("draft waits for approval", func(t *testing.T) {
			sig := "— Crumb & Co"
			_, err := b.agent.UpdateSettings(tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_adm", "")),
				agent.SettingsUpdate{Signature: &sig})
			require.NoError(t, err)
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeDraft).Exec(b.sys))
			jobs := storetest.CountJobs(t, b.store.DB, "outbound.deliver")
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionDrafted, run.Decision)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Equal(t, message.DeliveryStatusDraft, out[0].DeliveryStatus)
			require.Equal(t, out[0].ID, *run.ReplyMessageID)
			require.Contains(t, out[0].Text, "£3.50")
			require.Contains(t, out[0].Text, sig)
			require.Equal(t, jobs, storetest.CountJobs(t, b.store.DB, "outbound.deliver"), "a draft is not delivered")

			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			require.Len(t, b.outbound(t, msg.ConversationID), 1, "a retried job drafts nothing more")

			_, err = b.agent.ApproveDraft(b.member, out[0].ID, ptr("  "))
			require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
			sent, err := b.agent.ApproveDraft(b.member, out[0].ID, ptr("Delivery is £3.50 within 5 miles."))
			require.NoError(t, err)
			require.Equal(t, message.DeliveryStatusPending, sent.DeliveryStatus)
			require.Equal(t, "Delivery is £3.50 within 5 miles.", sent.Text)
			require.Equal(t, jobs+1, storetest.CountJobs(t, b.store.DB, "outbound.deliver"))
			_, err = b.agent.ApproveDraft(b.member, out[0].ID, nil)
			require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "approved once")
			_, err = b.agent.DiscardDraft(b.member, out[0].ID)
			require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err))
			n, err := b.store.Ent.AuditLog.Query().Count(b.sys)
			require.NoError(t, err)
			require.GreaterOrEqual(t, n, 2, "settings update and approval are audited")

			// Another draft, discarded.
			msg2 := b.inbound(t, "when is Riverside open?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg2.ConversationID).SetAiMode(conversation.AiModeDraft).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg2.ID, false))
			draft := b.outbound(t, msg2.ConversationID)
			require.Len(t, draft, 1)
			gone, err := b.agent.DiscardDraft(b.member, draft[0].ID)
			require.NoError(t, err)
			require.Equal(t, message.DeliveryStatusDiscarded, gone.DeliveryStatus)

			// Another workspace's viewer cannot touch it.
			other, err := workspace.Create(context.Background(), b.store, "Other")
			require.NoError(t, err)
			otherCtx := tenant.NewContext(context.Background(), tenant.Member(string(other.ID), tenant.RoleOwner, "key_o", ""))
			_, err = b.agent.ApproveDraft(otherCtx, draft[0].ID, nil)
			require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
		})
	})
}

// TestAgentAutoNeverSendsUncoveredAnswers: the two answers the built-in
// provider used to send in AUTO mode — the classic and red mugs' sentences
// for "Do you have a blue mug?" (confidence 0.49 ≥ 0.40), and the same for
// a photo captioned "Is this mug damaged?" — are handed off now; an answer
// that covers the question is still sent, and DRAFT mode still drafts.
func TestAgentAutoNeverSendsUncoveredAnswers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		b.addDoc(t, "Mugs", "# Mugs\n\nThe classic mug costs $29. The red mug is in stock and ships within 2 days.\n")
		now := time.Now()

		t.Run("an attribute the knowledge base does not have", func(t *testing.T) {
			msg := b.inbound(t, "Do you have a blue mug?", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision, run.Reason)
			require.Contains(t, run.Reason, `does not cover "blue"`)
			require.GreaterOrEqual(t, run.Confidence, ai.DefaultConfidenceThreshold, "confident, and still not sent")
			t.Logf("%s (confidence %.3f): %q", run.Reason, run.Confidence, run.Answer)
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})

		t.Run("a question about a photo", func(t *testing.T) {
			msg := b.inbound(t, "Is this mug damaged?", now)
			require.NoError(t, b.store.Ent.Message.UpdateOneID(msg.ID).
				SetAttachments([]schematype.Attachment{{Type: "image", URL: "https://cdn.example/p.jpg"}}).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision, run.Reason)
			require.Contains(t, run.Reason, "a photo the agent cannot see")
			t.Logf("%s", run.Reason)
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})

		t.Run("the same words without the photo", func(t *testing.T) {
			msg := b.inbound(t, "Is this mug damaged?", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision, run.Reason)
			require.Contains(t, run.Reason, `does not cover "damaged"`)
		})

		t.Run("a covered question is sent", func(t *testing.T) {
			msg := b.inbound(t, "How much is the classic mug?", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			require.Equal(t, agentrun.DecisionSent, b.runOf(t, msg).Decision)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Contains(t, out[0].Text, "$29")
		})

		t.Run("draft mode drafts it with a note", func(t *testing.T) {
			msg := b.inbound(t, "Do you have a blue mug?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeDraft).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionDrafted, run.Decision)
			require.Contains(t, run.Reason, `does not cover "blue"`)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Equal(t, message.DeliveryStatusDraft, out[0].DeliveryStatus)
		})
	})
}

func TestAgentHookSkipsOwnMessages(t *testing.T) {
	t.Parallel()
	b := setup(t, storetest.SQLite)
	msg := b.inbound(t, "hello", time.Now())
	hook := b.agent.Hook()
	conv, err := b.store.Ent.Conversation.Query().Where(conversation.ID(msg.ConversationID)).WithChannel().Only(b.sys)
	require.NoError(t, err)
	outbound := *msg
	outbound.Direction = message.DirectionOutbound
	outbound.AuthorKind = message.AuthorKindAgent
	ai := *msg
	ai.Direction = message.DirectionOutbound
	ai.AuthorKind = message.AuthorKindAI
	require.NoError(t, b.store.InTx(b.sys, func(tx *store.Tx) error {
		for _, m := range []*ent.Message{&outbound, &ai, msg} {
			if err := hook(b.sys, tx, conv.Edges.Channel, conv, m); err != nil {
				return err
			}
		}
		return nil
	}))
	require.Equal(t, 1, storetest.CountJobs(t, b.store.DB, "ai.reply"), "only the customer's message")
	// The agent itself also refuses to act on a non-inbound message.
	require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
}

func TestAgentSettings(t *testing.T) {
	t.Parallel()
	b := setup(t, storetest.SQLite)
	admin := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_adm", ""))
	def, err := b.agent.SettingsRow(admin)
	require.NoError(t, err)
	require.Equal(t, ai.DefaultConfidenceThreshold, def.ConfidenceThreshold)

	_, err = b.agent.SettingsRow(b.member)
	require.ErrorIs(t, err, tenant.ErrForbidden, "agents cannot read the settings")
	_, err = b.agent.UpdateSettings(b.member, agent.SettingsUpdate{Tone: ptr("x")})
	require.ErrorIs(t, err, tenant.ErrForbidden)

	bad := []agent.SettingsUpdate{
		{ConfidenceThreshold: ptr(1.5)},
		{NegativeSentimentThreshold: ptr(0.3)},
		{Timezone: ptr("Mars/Olympus")},
		{SetBusinessHours: true, BusinessHours: []schematypeWindow{{Day: "FUNDAY", Start: "09:00", End: "17:00"}}},
		{SetBusinessHours: true, BusinessHours: []schematypeWindow{{Day: "MONDAY", Start: "17:00", End: "09:00"}}},
		{SetHandoffKeywords: true, HandoffKeywords: []string{" "}},
	}
	for _, in := range bad {
		_, err := b.agent.UpdateSettings(admin, in)
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err), "%+v", in)
	}
	got, err := b.agent.UpdateSettings(admin, agent.SettingsUpdate{
		ConfidenceThreshold: ptr(0.55), Timezone: ptr("Europe/Madrid"),
		SetHandoffKeywords: true, HandoffKeywords: []string{"supervisor"},
		SetBusinessHours: true, BusinessHours: []schematypeWindow{{Day: "monday", Start: "09:00", End: "18:00"}},
	})
	require.NoError(t, err)
	require.Equal(t, 0.55, got.ConfidenceThreshold)
	require.Equal(t, []string{"supervisor"}, got.HandoffKeywords)
	require.Equal(t, "MONDAY", got.BusinessHours[0].Day)
	set, err := b.agent.Settings(b.sys)
	require.NoError(t, err)
	require.Equal(t, "Europe/Madrid", set.Timezone)

	// The keyword hands off.
	msg := b.inbound(t, "put your supervisor on", time.Now())
	require.NoError(t, b.agent.Run(b.sys, msg.ID, false))
	require.Equal(t, agentrun.DecisionHandedOff, b.runOf(t, msg).Decision)
}

func ptr[T any](v T) *T { return &v }

type schematypeWindow = schematype.BusinessHoursWindow
