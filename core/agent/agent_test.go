package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
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
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// testRules are the windows the platforms' connectors state: WhatsApp's 24
// hours, and a TikTok-like cap of two messages.
var testRules = inbox.StaticRules{
	"whatsapp": {{Platform: "whatsapp", ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour, TemplatesAllowed: true}}}},
	"tiktok":   {{Platform: "tiktok", ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 48 * time.Hour, MaxMessages: 2}}}},
}

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
	provider := builtin.New()
	kb := &knowledge.Service{Store: s, Provider: provider, Vectors: vs}
	in := &inbox.Service{Store: s, Rules: testRules}
	b := &testBundle{
		store:  s,
		agent:  &agent.Service{Store: s, Inbox: in, Knowledge: kb, Provider: provider},
		ws:     ws,
		sys:    sys,
		member: tenant.NewContext(ctx, tenant.Member(ws, tenant.RoleAgent, "key_1", "")),
	}
	admin := tenant.NewContext(ctx, tenant.Member(ws, tenant.RoleAdmin, "key_admin", ""))
	doc, err := kb.Add(admin, knowledge.DocumentInput{Title: "Crumb & Co", Content: kbDoc, Format: knowledge.FormatMarkdown})
	require.NoError(t, err)
	require.NoError(t, kb.Index(sys, jobargs.KBIndex{WorkspaceID: ws, DocumentID: string(doc.ID), Version: doc.Version}))
	b.ch, err = s.Ent.Channel.Create().SetWorkspaceID(w.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID("1065").SetName("WA").SetAiMode(entchannel.AiModeAuto).Save(sys)
	require.NoError(t, err)
	return b
}

// addDoc indexes another Markdown document, added by an admin (agents
// only read the knowledge base).
func (b *testBundle) addDoc(t *testing.T, title, content string) {
	t.Helper()
	// Admins write the knowledge base.
	admin := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_admin", ""))
	doc, err := b.agent.Knowledge.Add(admin, knowledge.DocumentInput{Title: title, Content: content, Format: knowledge.FormatMarkdown})
	require.NoError(t, err)
	require.NoError(t, b.agent.Knowledge.Index(b.sys, jobargs.KBIndex{WorkspaceID: b.ws, DocumentID: string(doc.ID), Version: doc.Version}))
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
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
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
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			require.Len(t, b.outbound(t, msg.ConversationID), 1)
			require.Equal(t, jobs, storetest.CountJobs(t, b.store.DB, "outbound.deliver"))
			n, err := b.store.Ent.AgentRun.Query().Where(agentrun.MessageID(msg.ID)).Count(b.sys)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})

		handedOff := func(t *testing.T, text string, last time.Time, reason string) {
			t.Helper()
			msg := b.inbound(t, text, last)
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
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
			handedOff(t, "how much is delivery?", now.Add(-25*time.Hour), "24-hour reply window is closed")
		})
		t.Run("message cap reached", func(t *testing.T) {
			// A TikTok-like channel allows two business messages per
			// customer message; both went (one from the business's app).
			tk, err := b.store.Ent.Channel.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConnector("tiktok").SetPlatform("tiktok").
				SetExternalID("open-1").SetName("TikTok").SetAiMode(entchannel.AiModeAuto).Save(b.sys)
			require.NoError(t, err)
			last := now.Add(-time.Hour)
			conv, err := b.store.Ent.Conversation.Create().SetWorkspaceID(tk.WorkspaceID).SetChannelID(tk.ID).
				SetKind(conversation.KindDirectMessage).SetThreadID("tt-conv").SetLastInboundAt(last).Save(b.sys)
			require.NoError(t, err)
			msg, err := b.store.Ent.Message.Create().SetWorkspaceID(tk.WorkspaceID).SetConversationID(conv.ID).
				SetChannelID(tk.ID).SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
				SetExternalID("tt-in").SetText("how much is delivery?").SetSentAt(last).Save(b.sys)
			require.NoError(t, err)
			for i, st := range []message.DeliveryStatus{message.DeliveryStatusSent, message.DeliveryStatusDelivered} {
				require.NoError(t, b.store.Ent.Message.Create().SetWorkspaceID(tk.WorkspaceID).SetConversationID(conv.ID).
					SetChannelID(tk.ID).SetDirection(message.DirectionOutbound).SetAuthorKind(message.AuthorKindAgent).
					SetExternalID("tt-out-"+string(rune('a'+i))).SetText("later").SetDeliveryStatus(st).
					SetSentAt(last.Add(time.Minute)).Exec(b.sys))
			}
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
			require.Contains(t, run.Reason, "allows 2 business messages until the customer writes again")
			require.Len(t, b.outbound(t, conv.ID), 2, "nothing more is sent")
		})

		t.Run("already handed off", func(t *testing.T) {
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetHandoffReason("a human took it").Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			require.Equal(t, agentrun.DecisionHandedOff, b.runOf(t, msg).Decision)
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})

		t.Run("conversation override off", func(t *testing.T) {
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeOff).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
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
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionDrafted, run.Decision)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Equal(t, message.DeliveryStatusDraft, out[0].DeliveryStatus)
			require.Equal(t, out[0].ID, *run.ReplyMessageID)
			require.Contains(t, out[0].Text, "£3.50")
			require.Contains(t, out[0].Text, sig)
			require.Equal(t, jobs, storetest.CountJobs(t, b.store.DB, "outbound.deliver"), "a draft is not delivered")

			require.NoError(t, b.agent.Run(b.sys, msg.ID))
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
			require.NoError(t, b.agent.Run(b.sys, msg2.ID))
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

		t.Run("a draft approved after the window closed is refused", func(t *testing.T) {
			msg := b.inbound(t, "how much is delivery?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeDraft).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			draft := b.outbound(t, msg.ConversationID)
			require.Len(t, draft, 1)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetLastInboundAt(now.Add(-25*time.Hour)).Exec(b.sys))
			jobs := storetest.CountJobs(t, b.store.DB, "outbound.deliver")
			_, err := b.agent.ApproveDraft(b.member, draft[0].ID, nil)
			require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err), "%v", err)
			require.Contains(t, err.Error(), "template")
			require.Equal(t, message.DeliveryStatusDraft, b.outbound(t, msg.ConversationID)[0].DeliveryStatus)
			require.Equal(t, jobs, storetest.CountJobs(t, b.store.DB, "outbound.deliver"))
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
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
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
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision, run.Reason)
			require.Contains(t, run.Reason, "a photo the agent cannot see")
			t.Logf("%s", run.Reason)
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})

		t.Run("the same words without the photo", func(t *testing.T) {
			msg := b.inbound(t, "Is this mug damaged?", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision, run.Reason)
			require.Contains(t, run.Reason, `does not cover "damaged"`)
		})

		t.Run("a covered question is sent", func(t *testing.T) {
			msg := b.inbound(t, "How much is the classic mug?", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			require.Equal(t, agentrun.DecisionSent, b.runOf(t, msg).Decision)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Contains(t, out[0].Text, "$29")
		})

		t.Run("draft mode drafts it with a note", func(t *testing.T) {
			msg := b.inbound(t, "Do you have a blue mug?", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeDraft).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			run := b.runOf(t, msg)
			require.Equal(t, agentrun.DecisionDrafted, run.Decision)
			require.Contains(t, run.Reason, `does not cover "blue"`)
			out := b.outbound(t, msg.ConversationID)
			require.Len(t, out, 1)
			require.Equal(t, message.DeliveryStatusDraft, out[0].DeliveryStatus)
		})
	})
}

// thread is a comment thread under one post, the way Ingest stores it.
type thread struct {
	b    *testBundle
	conv *ent.Conversation
	n    int
}

func (b *testBundle) thread(t *testing.T) *thread {
	t.Helper()
	b.n++
	conv, err := b.store.Ent.Conversation.Create().SetWorkspaceID(b.ch.WorkspaceID).SetChannelID(b.ch.ID).
		SetKind(conversation.KindCommentThread).SetThreadID("post-" + string(rune('a'+b.n))).Save(b.sys)
	require.NoError(t, err)
	return &thread{b: b, conv: conv}
}

// comment stores a comment by commenter (a contact's platform id; empty
// for an author the platform did not name).
func (th *thread) comment(t *testing.T, commenter, text string) *ent.Message {
	t.Helper()
	b := th.b
	th.n++
	c := b.store.Ent.Message.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConversationID(th.conv.ID).
		SetChannelID(b.ch.ID).SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
		SetExternalID(th.conv.ThreadID + "_c" + string(rune('0'+th.n))).SetText(text).SetSentAt(time.Now().Add(time.Duration(th.n) * time.Second))
	if commenter != "" {
		ct, err := b.store.Ent.Contact.Query().Where(contact.ChannelID(b.ch.ID), contact.ExternalID(commenter)).Only(b.sys)
		if ent.IsNotFound(err) {
			ct, err = b.store.Ent.Contact.Create().SetWorkspaceID(b.ch.WorkspaceID).SetChannelID(b.ch.ID).
				SetExternalID(commenter).SetName(commenter).Save(b.sys)
		}
		require.NoError(t, err)
		c.SetContactID(ct.ID)
	}
	msg, err := c.Save(b.sys)
	require.NoError(t, err)
	return msg
}

// run runs the agent on msg and returns its run and the reply, if any.
func (th *thread) run(t *testing.T, msg *ent.Message) (*ent.AgentRun, *ent.Message) {
	t.Helper()
	require.NoError(t, th.b.agent.Run(th.b.sys, msg.ID))
	run := th.b.runOf(t, msg)
	if run.ReplyMessageID == nil {
		return run, nil
	}
	reply, err := th.b.store.Ent.Message.Get(th.b.sys, *run.ReplyMessageID)
	require.NoError(t, err)
	return run, reply
}

// TestAgentCommentThreadHandoffPerCommenter: in a comment thread a handoff
// concerns the commenter who caused it. Before, Ann asking for a person
// silenced the agent for Bob and everyone after him on the post ("already
// handed off"), and the agent's answers went to the newest comment of the
// thread, whoever wrote it.
func TestAgentCommentThreadHandoffPerCommenter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		th := b.thread(t)

		ann := th.comment(t, "ann", "I want to talk to a person")
		run, reply := th.run(t, ann)
		require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
		require.Nil(t, reply)
		ann, err := b.store.Ent.Message.Get(b.sys, ann.ID)
		require.NoError(t, err)
		require.Contains(t, ann.HandoffReason, "asked for a human", "the handoff is recorded on Ann's comment")

		bob := th.comment(t, "bob", "how much is delivery?")
		later := th.comment(t, "cat", "nice post")
		run, reply = th.run(t, bob)
		require.Equal(t, agentrun.DecisionSent, run.Decision, run.Reason)
		require.Contains(t, reply.Text, "£3.50")
		require.Equal(t, *bob.ExternalID, reply.ReplyToExternalID, "the answer replies to Bob's comment, not the newest one (%s)", *later.ExternalID)

		again := th.comment(t, "ann", "how much is delivery?")
		run, reply = th.run(t, again)
		require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
		require.Contains(t, run.Reason, "already handed off: the customer asked for a human")
		require.Nil(t, reply, "a person is answering Ann")

		anon := th.comment(t, "", "how much is delivery?")
		run, _ = th.run(t, anon)
		require.Equal(t, agentrun.DecisionHandedOff, run.Decision, "an unnamed commenter may be Ann")

		// Given back to the agent: Ann is answered again.
		_, err = b.agent.Inbox.UpdateConversation(b.member, th.conv.ID, inbox.ConversationUpdate{ClearHandoff: true})
		require.NoError(t, err)
		flagged, err := b.store.Ent.Message.Query().Where(message.ConversationID(th.conv.ID), message.HandoffReasonNEQ("")).Count(b.sys)
		require.NoError(t, err)
		require.Zero(t, flagged)
		third := th.comment(t, "ann", "how much is delivery?")
		run, reply = th.run(t, third)
		require.Equal(t, agentrun.DecisionSent, run.Decision, run.Reason)
		require.Equal(t, *third.ExternalID, reply.ReplyToExternalID)

		t.Run("a handoff recorded on no comment covers the thread", func(t *testing.T) {
			th := b.thread(t)
			th.comment(t, "ann", "first")
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(th.conv.ID).SetHandoffReason("delivery failed").Exec(b.sys))
			run, _ := th.run(t, th.comment(t, "bob", "how much is delivery?"))
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
			require.Contains(t, run.Reason, "already handed off: delivery failed")
		})

		t.Run("direct messages stay handed off as a whole", func(t *testing.T) {
			msg := b.inbound(t, "I want to talk to a person", time.Now())
			run := func(m *ent.Message) *ent.AgentRun {
				require.NoError(t, b.agent.Run(b.sys, m.ID))
				return b.runOf(t, m)
			}
			require.Equal(t, agentrun.DecisionHandedOff, run(msg).Decision)
			next, err := b.store.Ent.Message.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConversationID(msg.ConversationID).
				SetChannelID(b.ch.ID).SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
				SetExternalID("wamid.next").SetText("how much is delivery?").Save(b.sys)
			require.NoError(t, err)
			require.Contains(t, run(next).Reason, "already handed off")
		})
	})
}

// TestAgentHandoffMessage: the workspace's handoffMessage (off by default)
// tells a customer in a direct conversation that a person will answer.
func TestAgentHandoffMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setup(t, d)
		admin := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_adm", ""))
		now := time.Now()
		asksHuman := func(t *testing.T) *ent.Message {
			t.Helper()
			msg := b.inbound(t, "I want to talk to a person", now)
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			require.Equal(t, agentrun.DecisionHandedOff, b.runOf(t, msg).Decision)
			return msg
		}

		// Off by default: nothing is sent.
		require.Empty(t, b.outbound(t, asksHuman(t).ConversationID))

		_, err := b.agent.UpdateSettings(admin, agent.SettingsUpdate{HandoffMessage: ptr(strings.Repeat("x", agent.MaxHandoffChars+1))})
		require.Equal(t, apperr.CodeBadUserInput, apperr.CodeOf(err))
		row, err := b.agent.UpdateSettings(admin, agent.SettingsUpdate{HandoffMessage: ptr("  Thanks! A person from our team will reply here shortly.  ")})
		require.NoError(t, err)
		require.Equal(t, "Thanks! A person from our team will reply here shortly.", row.HandoffMessage)

		msg := asksHuman(t)
		out := b.outbound(t, msg.ConversationID)
		require.Len(t, out, 1)
		require.Equal(t, row.HandoffMessage, out[0].Text)
		require.Equal(t, message.AuthorKindAI, out[0].AuthorKind)
		require.Equal(t, message.DeliveryStatusPending, out[0].DeliveryStatus)
		require.Equal(t, out[0].ID, *b.runOf(t, msg).ReplyMessageID)

		t.Run("not under a public comment", func(t *testing.T) {
			th := b.thread(t)
			run, reply := th.run(t, th.comment(t, "ann", "I want to talk to a person"))
			require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
			require.Nil(t, reply)
		})
		t.Run("not in draft mode", func(t *testing.T) {
			msg := b.inbound(t, "I want to talk to a person", now)
			require.NoError(t, b.store.Ent.Conversation.UpdateOneID(msg.ConversationID).SetAiMode(conversation.AiModeDraft).Exec(b.sys))
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})
		t.Run("not when the reply window is closed", func(t *testing.T) {
			msg := b.inbound(t, "I want to talk to a person", now.Add(-25*time.Hour))
			require.NoError(t, b.agent.Run(b.sys, msg.ID))
			require.Empty(t, b.outbound(t, msg.ConversationID))
		})
		t.Run("not twice", func(t *testing.T) {
			next, err := b.store.Ent.Message.Create().SetWorkspaceID(b.ch.WorkspaceID).SetConversationID(msg.ConversationID).
				SetChannelID(b.ch.ID).SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
				SetExternalID("wamid.again").SetText("hello?").Save(b.sys)
			require.NoError(t, err)
			require.NoError(t, b.agent.Run(b.sys, next.ID))
			require.Len(t, b.outbound(t, msg.ConversationID), 1, "already handed off: nothing more")
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
	require.NoError(t, b.agent.Run(b.sys, msg.ID))
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
	require.NoError(t, b.agent.Run(b.sys, msg.ID))
	require.Equal(t, agentrun.DecisionHandedOff, b.runOf(t, msg).Decision)
}

func ptr[T any](v T) *T { return &v }

type schematypeWindow = schematype.BusinessHoursWindow
