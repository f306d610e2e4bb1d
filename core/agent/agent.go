package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
)

// Service runs the agent.
type Service struct {
	Store     *store.Store
	Inbox     *inbox.Service
	Knowledge *knowledge.Service
	Provider  ai.Provider
	Log       *slog.Logger
	Now       func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Hook queues an ai.reply job for a new inbound message from a contact,
// in the ingesting transaction. Echoes, the business's own comments and
// the agent's messages are outbound and never reach it.
func (s *Service) Hook() inbox.InboundHook {
	return func(ctx context.Context, tx *store.Tx, ch *ent.Channel, conv *ent.Conversation, msg *ent.Message) error {
		if !answerable(msg) || offAtArrival(ch, conv) {
			return nil
		}
		return tx.InsertJob(ctx, jobargs.AIReply{WorkspaceID: string(msg.WorkspaceID), MessageID: string(msg.ID)}, nil)
	}
}

func answerable(msg *ent.Message) bool {
	return msg.Direction == message.DirectionInbound && msg.AuthorKind == message.AuthorKindContact && msg.DeletedAt == nil
}

// offAtArrival reports whether the agent is off for conv when a message
// arrives: no job is queued then (a message that came in while the agent
// was off is not answered if it is switched on later).
func offAtArrival(ch *ent.Channel, conv *ent.Conversation) bool {
	if conv.AiMode != nil {
		return string(*conv.AiMode) == string(ModeOff)
	}
	return string(ch.AiMode) == string(ModeOff)
}

// Run is the ai.reply job: it decides what to do with one inbound message
// and does it, at most once. ctx carries a system viewer of the message's
// workspace. Retryable provider failures are returned, classified by
// core/ai (whether the job retries is the job layer's decision); for
// permanent failures the conversation goes to a human instead.
func (s *Service) Run(ctx context.Context, messageID pulid.ID) error {
	return s.run(ctx, messageID, false)
}

// RunLastAttempt is Run when no retry follows (the job's last attempt): a
// provider failure of any class hands the conversation to a human.
func (s *Service) RunLastAttempt(ctx context.Context, messageID pulid.ID) error {
	return s.run(ctx, messageID, true)
}

func (s *Service) run(ctx context.Context, messageID pulid.ID, final bool) error {
	start := time.Now()
	done, err := s.Store.Ent.AgentRun.Query().Where(agentrun.MessageID(messageID)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("agent: checking runs: %w", err)
	}
	if done {
		return nil
	}
	msg, err := s.Store.Ent.Message.Query().
		Where(message.ID(messageID)).
		WithConversation(func(q *ent.ConversationQuery) { q.WithChannel() }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("agent: loading message: %w", err)
	}
	if !answerable(msg) {
		return nil
	}
	conv := msg.Edges.Conversation
	ch := conv.Edges.Channel
	set, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	mode := Mode(ch.AiMode)
	if conv.AiMode != nil {
		mode = Mode(*conv.AiMode)
	}
	if conv.Kind == conversation.KindReview {
		return s.runReview(ctx, start, set, mode, msg, final)
	}
	handoff, err := s.handoffFor(ctx, conv, msg)
	if err != nil {
		return err
	}
	// The window the channel's connector states for this kind of thread,
	// and its cap on messages; the agent's messages get the plain window,
	// not a person's longer one.
	window, err := s.Inbox.ReplyWindow(ctx, s.Store.Ent, ch, conv, message.AuthorKindAI)
	if err != nil {
		return err
	}
	facts := Facts{
		Mode:          mode,
		Text:          msg.Text,
		HandoffReason: handoff,
		Public:        conv.Kind != conversation.KindDirectMessage,
		WindowClosed:  window.Closed,
		WindowReason:  window.Reason,
		InHours:       set.InHours(msg.SentAt),
	}
	for _, a := range msg.Attachments {
		facts.Attachments = append(facts.Attachments, a.Type)
	}
	run := &ent.AgentRun{MessageID: msg.ID, ConversationID: conv.ID}
	if mode != ModeOff && strings.TrimSpace(msg.Text) != "" {
		// Computed here rather than read from the sentiment job's result:
		// the two jobs run in any order.
		facts.Sentiment, err = s.sentiment(ctx, msg)
		if err != nil && !final {
			return err
		}
		score := facts.Sentiment.Score
		run.SentimentScore = &score
	}
	v := Decide(set, facts)
	if v.NeedAnswer {
		ans, err := s.Knowledge.Answer(ctx, msg.Text, instructions(set))
		switch {
		case err != nil && ai.Retryable(err) && !final:
			return err
		case err != nil:
			s.log().Error("agent: answering failed; handing off", "message", msg.ID, "err", err)
			v = Verdict{Decision: agentrun.DecisionHandedOff, Reason: "the AI provider failed: " + trim(err.Error(), 300), NewHandoff: true}
		default:
			facts.Answer = ans
			v = Decide(set, facts)
			run.Answer = ans.Text
			run.Citations = ans.Citations
			run.Confidence = ans.Confidence
			run.Model, run.Provider = ans.Model, ans.Provider
			run.PromptTokens = ans.Usage.PromptTokens
			run.CompletionTokens = ans.Usage.CompletionTokens
		}
	}
	run.Decision = v.Decision
	run.Reason = v.Reason
	run.LatencyMs = int(time.Since(start).Milliseconds())
	return s.act(ctx, run, v, set, msg)
}

// runReview decides on a review: the review policy caps the mode by its
// stars, the reply is the review template with the knowledge base's
// answer to any question the review asks (DecideReview, ReviewReply).
func (s *Service) runReview(ctx context.Context, start time.Time, set Settings, mode Mode, msg *ent.Message, final bool) error {
	conv := msg.Edges.Conversation
	stars := 0
	if msg.Rating != nil {
		stars = *msg.Rating
	}
	facts := ReviewFacts{
		Mode:          ReviewMode(mode, set.ReviewPolicy, stars),
		Stars:         stars,
		Text:          msg.Text,
		HandoffReason: conv.HandoffReason,
		Question:      ReviewQuestion(msg.Text),
	}
	run := &ent.AgentRun{MessageID: msg.ID, ConversationID: conv.ID, Model: "template"}
	// A review that already has the business's reply (written in the
	// platform's own interface, found by a backfill) needs no other.
	answered, err := s.Store.Ent.Message.Query().Where(message.ConversationID(conv.ID),
		message.DirectionEQ(message.DirectionOutbound), message.DeletedAtIsNil(), message.ReplacedAtIsNil(),
		message.DeliveryStatusIn(message.DeliveryStatusSent, message.DeliveryStatusDelivered, message.DeliveryStatusRead)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("agent: looking for the review's reply: %w", err)
	}
	if answered && facts.Mode != ModeOff {
		run.Decision, run.Reason = agentrun.DecisionSkipped, "the review already has a reply"
		run.LatencyMs = int(time.Since(start).Milliseconds())
		return s.act(ctx, run, Verdict{Decision: agentrun.DecisionSkipped, Reason: run.Reason}, set, msg)
	}
	if facts.Mode != ModeOff && strings.TrimSpace(msg.Text) != "" {
		facts.Sentiment, err = s.sentiment(ctx, msg)
		if err != nil && !final {
			return err
		}
		score := facts.Sentiment.Score
		run.SentimentScore = &score
	}
	v := DecideReview(set, facts)
	if v.NeedAnswer {
		ans, err := s.Knowledge.Answer(ctx, facts.Question, reviewInstructions(set))
		switch {
		case err != nil && ai.Retryable(err) && !final:
			return err
		case err != nil:
			// The template still answers; the question is left to a person.
			s.log().Warn("agent: answering the review's question failed", "message", msg.ID, "err", err)
			ans = &knowledge.Answer{Refused: true}
		default:
			run.Citations = ans.Citations
			run.Confidence = ans.Confidence
			run.Model, run.Provider = ans.Model, ans.Provider
			run.PromptTokens = ans.Usage.PromptTokens
			run.CompletionTokens = ans.Usage.CompletionTokens
		}
		facts.Answer = ans
		v = DecideReview(set, facts)
	}
	if v.Decision == agentrun.DecisionSent || v.Decision == agentrun.DecisionDrafted || v.Draft {
		grounded := groundedAnswer(set, facts.Answer)
		if grounded == "" {
			// No fact from the knowledge base is used: cite none.
			run.Citations = nil
		}
		var reviewer string
		if msg.ContactID != nil {
			if ct, err := s.Store.Ent.Contact.Get(ctx, *msg.ContactID); err == nil {
				reviewer = ct.Name
			}
		}
		run.Answer = ReviewReply(reviewer, stars, msg.Text, grounded)
	}
	run.Decision = v.Decision
	run.Reason = v.Reason
	run.LatencyMs = int(time.Since(start).Milliseconds())
	return s.act(ctx, run, v, set, msg)
}

// handoffFor is the open handoff that keeps the agent out of msg's
// conversation. In a direct conversation it is the conversation's. In a
// comment thread every commenter is a different customer, so it is the
// handoff of this commenter's own comments: someone else's request for a
// person does not silence the agent for everyone else on the post. A
// handoff recorded on no comment (from before comments carried it, or a
// failed reply with no comment) still covers the whole thread, and so does
// any handoff for a comment without a known author.
func (s *Service) handoffFor(ctx context.Context, conv *ent.Conversation, msg *ent.Message) (string, error) {
	if conv.HandoffReason == "" || conv.Kind != conversation.KindCommentThread || msg.ContactID == nil {
		return conv.HandoffReason, nil
	}
	own, err := s.Store.Ent.Message.Query().
		Where(message.ConversationID(conv.ID), message.ContactID(*msg.ContactID), message.HandoffReasonNEQ("")).
		Order(ent.Desc(message.FieldSentAt)).First(ctx)
	switch {
	case err == nil:
		return own.HandoffReason, nil
	case !ent.IsNotFound(err):
		return "", fmt.Errorf("agent: reading the commenter's handoff: %w", err)
	}
	attributed, err := s.Store.Ent.Message.Query().
		Where(message.ConversationID(conv.ID), message.HandoffReasonNEQ("")).Exist(ctx)
	if err != nil {
		return "", fmt.Errorf("agent: reading the thread's handoffs: %w", err)
	}
	if attributed {
		return "", nil
	}
	return conv.HandoffReason, nil
}

func (s *Service) sentiment(ctx context.Context, msg *ent.Message) (ai.Sentiment, error) {
	if msg.SentimentScore != nil {
		return ai.Sentiment{Score: *msg.SentimentScore}, nil
	}
	sent, err := s.Provider.Sentiment(ctx, msg.Text)
	if err == nil {
		return sent, nil
	}
	// The lexicon model is a fine stand-in for a handoff check.
	fallback := builtin.LexiconSentiment(msg.Text)
	if ai.Retryable(err) {
		return fallback, err
	}
	return fallback, nil
}

func instructions(set Settings) string {
	if set.Tone == "" {
		return ""
	}
	return "Write in this tone: " + set.Tone
}

// replyText is the answer with the signature, within the reply limit.
func replyText(answer string, set Settings) string {
	text := strings.TrimSpace(answer)
	if set.Signature != "" {
		text += "\n\n" + set.Signature
	}
	return trim(text, inbox.MaxReplyChars)
}

func trim(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// errAlreadyRun reports that another attempt recorded this message's run.
var errAlreadyRun = errors.New("agent: message already handled")

func createRun(ctx context.Context, tx *store.Tx, r *ent.AgentRun) (*ent.AgentRun, error) {
	c := tx.Ent.AgentRun.Create().
		SetWorkspaceID(pulid.ID(tenant.FromContext(ctx).WorkspaceID)).
		SetMessageID(r.MessageID).
		SetConversationID(r.ConversationID).
		SetDecision(r.Decision).
		SetReason(trim(r.Reason, 1000)).
		SetAnswer(r.Answer).
		SetCitations(nonNil(r.Citations)).
		SetConfidence(r.Confidence).
		SetModel(r.Model).
		SetProvider(r.Provider).
		SetLatencyMs(r.LatencyMs).
		SetPromptTokens(r.PromptTokens).
		SetCompletionTokens(r.CompletionTokens).
		SetNillableSentimentScore(r.SentimentScore).
		SetNillableReplyMessageID(r.ReplyMessageID)
	out, err := c.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, errAlreadyRun
	}
	if err != nil {
		return nil, fmt.Errorf("agent: storing run: %w", err)
	}
	return out, nil
}

func nonNil(c []schematype.Citation) []schematype.Citation {
	if c == nil {
		return []schematype.Citation{}
	}
	return c
}

// act carries out a verdict in one transaction: the run record, the reply
// (or draft) with its delivery job, and the handoff commit together. A
// retried job finds the run (unique per inbound message) and stops, so an
// inbound message is answered at most once, and never left half-handled.
func (s *Service) act(ctx context.Context, r *ent.AgentRun, v Verdict, set Settings, msg *ent.Message) error {
	conv := msg.Edges.Conversation
	reply := func(text string, draft bool) *inbox.Reply {
		out := &inbox.Reply{ConversationID: conv.ID, Text: text, AuthorKind: message.AuthorKindAI, Draft: draft}
		if conv.Kind == conversation.KindCommentThread {
			// Answer the comment that asked, not the thread's newest one
			// (another commenter's, perhaps).
			out.InReplyTo = msg.ID
		}
		return out
	}
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		var out *inbox.Reply
		switch v.Decision {
		case agentrun.DecisionSent:
			out = reply(replyText(r.Answer, set), false)
		case agentrun.DecisionDrafted:
			out = reply(replyText(r.Answer, set), true)
		case agentrun.DecisionHandedOff:
			if v.NewHandoff {
				if err := s.Inbox.HandOffMessageTx(ctx, tx, msg, v.Reason); err != nil {
					return fmt.Errorf("agent: handing off: %w", err)
				}
			}
			switch {
			case v.Draft && strings.TrimSpace(r.Answer) != "":
				out = reply(replyText(r.Answer, set), true)
			case v.SendAway:
				out = reply(set.AwayMessage, false)
			case v.SendHandoff:
				out = reply(set.HandoffMessage, false)
			}
		}
		if out != nil {
			sent, err := s.Inbox.SendReplyTx(ctx, tx, *out)
			if err != nil {
				return err
			}
			r.ReplyMessageID = &sent.ID
		}
		_, err := createRun(ctx, tx, r)
		return err
	})
	switch {
	case errors.Is(err, errAlreadyRun):
		return nil
	case err != nil && (v.Decision == agentrun.DecisionSent || v.Decision == agentrun.DecisionDrafted || v.Draft) && apperr.CodeOf(err) != apperr.CodeInternal:
		// The reply cannot be stored (channel disconnected, text rejected):
		// a human takes over with the reason, recorded as the run.
		reason := "sending the answer failed: " + trim(err.Error(), 300)
		s.log().Warn("agent: reply refused; handing off", "conversation", conv.ID, "err", err)
		r.Decision, r.Reason, r.ReplyMessageID = agentrun.DecisionHandedOff, reason, nil
		return s.act(ctx, r, Verdict{Decision: agentrun.DecisionHandedOff, Reason: reason, NewHandoff: true}, set, msg)
	case err != nil && (v.SendAway || v.SendHandoff) && apperr.CodeOf(err) != apperr.CodeInternal:
		// The courtesy message cannot go (the window's last message was
		// taken meanwhile): the handoff happens without it.
		s.log().Warn("agent: handoff message refused; handing off without it", "conversation", conv.ID, "err", err)
		v.SendAway, v.SendHandoff = false, false
		return s.act(ctx, r, v, set, msg)
	}
	return err
}

// ApproveDraft sends an AI draft, with text replacing it when given: the
// message becomes PENDING and its delivery job is queued in the same
// transaction. Audited.
func (s *Service) ApproveDraft(ctx context.Context, id pulid.ID, text *string) (*ent.Message, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	var edited string
	if text != nil {
		edited = strings.TrimSpace(*text)
		if edited == "" {
			return nil, apperr.Invalid("text", "text must not be empty")
		}
		if utf8.RuneCountInString(edited) > inbox.MaxReplyChars {
			return nil, apperr.Invalid("text", "text is longer than %d characters", inbox.MaxReplyChars)
		}
	}
	var out *ent.Message
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		msg, err := s.loadDraft(ctx, tx, id)
		if err != nil {
			return err
		}
		final := msg.Text
		if text != nil {
			final = edited
		}
		if err := s.Inbox.CheckReplyTx(ctx, tx, msg.ConversationID, final); err != nil {
			return err
		}
		conv, err := tx.Ent.Conversation.Query().Where(conversation.ID(msg.ConversationID)).WithChannel().Only(ctx)
		if err != nil {
			return fmt.Errorf("agent: loading the draft's conversation: %w", err)
		}
		// The draft goes as the agent's message (no human-agent tag): the
		// plain window applies.
		if err := s.Inbox.CheckReplyWindow(ctx, tx.Ent, conv.Edges.Channel, conv, msg.AuthorKind); err != nil {
			return err
		}
		now := s.now()
		meta := map[string]string{}
		for k, val := range msg.Metadata {
			meta[k] = val
		}
		meta["approved_by"] = v.Actor()
		// Conditional on the state, so two approvals racing send once.
		u := tx.Ent.Message.UpdateOneID(id).
			Where(message.DeliveryStatusEQ(message.DeliveryStatusDraft)).
			SetDeliveryStatus(message.DeliveryStatusPending).
			SetSentAt(now).
			SetMetadata(meta)
		if text != nil && edited != msg.Text {
			u.SetText(edited)
			meta["edited"] = "true"
		}
		if out, err = u.Save(ctx); ent.IsNotFound(err) {
			return apperr.New(apperr.CodeConflict, "message %s is no longer a draft", id)
		} else if err != nil {
			return fmt.Errorf("agent: approving draft: %w", err)
		}
		if err := tx.Ent.Conversation.UpdateOneID(msg.ConversationID).SetLastMessageAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("agent: touching conversation: %w", err)
		}
		if err := tx.InsertJob(ctx, jobargs.OutboundDeliver{WorkspaceID: v.WorkspaceID, MessageID: string(id)}, nil); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx.Ent, "message.draft.approve", "Message", string(id), map[string]string{"edited": meta["edited"]}); err != nil {
			return err
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: v.WorkspaceID, ObjectID: string(id),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		return nil
	})
	return out, err
}

// DiscardDraft drops an AI draft without sending it. Audited.
func (s *Service) DiscardDraft(ctx context.Context, id pulid.ID) (*ent.Message, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	var out *ent.Message
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		msg, err := s.loadDraft(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = tx.Ent.Message.UpdateOneID(id).
			Where(message.DeliveryStatusEQ(message.DeliveryStatusDraft)).
			SetDeliveryStatus(message.DeliveryStatusDiscarded).Save(ctx)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.CodeConflict, "message %s is no longer a draft", id)
		}
		if err != nil {
			return fmt.Errorf("agent: discarding draft: %w", err)
		}
		if err := audit.Record(ctx, tx.Ent, "message.draft.discard", "Message", string(id), nil); err != nil {
			return err
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: v.WorkspaceID, ObjectID: string(id),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		return nil
	})
	return out, err
}

func (s *Service) loadDraft(ctx context.Context, tx *store.Tx, id pulid.ID) (*ent.Message, error) {
	msg, err := tx.Ent.Message.Query().Where(message.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("draft")
	}
	if err != nil {
		return nil, fmt.Errorf("agent: loading draft: %w", err)
	}
	if msg.DeliveryStatus != message.DeliveryStatusDraft {
		return nil, apperr.New(apperr.CodeConflict, "message %s is not a draft (it is %s)", id, msg.DeliveryStatus)
	}
	return msg, nil
}
