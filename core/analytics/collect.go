package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/auditlog"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// Fact is one event counted by analytics.
type Fact struct {
	At             time.Time
	ChannelID      pulid.ID
	Kind           string
	Metric         string
	Dim            string
	Count          int64
	Sum            int64
	BusinessSum    int64
	ConversationID pulid.ID
}

// Audit actions analytics reads.
const (
	actionResolve = "conversation.resolve"
	actionApprove = "message.draft.approve"
	actionDiscard = "message.draft.discard"
)

// KindPost is the kind of publishing facts, which belong to no
// conversation.
const KindPost = "POST"

// AI is the dimension of facts by the AI agent.
const AI = "ai"

// chunk bounds the IDs of one IN list (SQLite's variable limit).
const chunk = 500

type convRow struct {
	ID        pulid.ID
	ChannelID pulid.ID
	Kind      string
	CreatedAt time.Time
}

// collector derives facts from the base tables. client is bound to a
// viewer of one workspace, so every read is scoped by the privacy policy.
type collector struct {
	client *ent.Client
	hours  businessHours
	convs  map[pulid.ID]*convRow
}

// collect returns the facts with a time in [a, b).
func collect(ctx context.Context, client *ent.Client, hours businessHours, a, b time.Time) ([]Fact, error) {
	c := &collector{client: client, hours: hours, convs: map[pulid.ID]*convRow{}}
	var out []Fact
	if err := c.conversations(ctx, a, b, &out); err != nil {
		return nil, err
	}
	if err := c.agentRuns(ctx, a, b, &out); err != nil {
		return nil, err
	}
	if err := c.drafts(ctx, a, b, &out); err != nil {
		return nil, err
	}
	if err := c.posts(ctx, a, b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadConvs fills c.convs for ids.
func (c *collector) loadConvs(ctx context.Context, ids []pulid.ID) error {
	var missing []pulid.ID
	for _, id := range ids {
		if _, ok := c.convs[id]; !ok {
			missing = append(missing, id)
		}
	}
	for part := range slices.Chunk(missing, chunk) {
		rows, err := c.client.Conversation.Query().Where(conversation.IDIn(part...)).
			Select(conversation.FieldID, conversation.FieldChannelID, conversation.FieldKind, conversation.FieldCreatedAt).All(ctx)
		if err != nil {
			return fmt.Errorf("analytics: loading conversations: %w", err)
		}
		for _, r := range rows {
			c.convs[r.ID] = &convRow{ID: r.ID, ChannelID: r.ChannelID, Kind: string(r.Kind), CreatedAt: r.CreatedAt}
		}
	}
	return nil
}

// conversations replays each conversation with an event in [a, b) from
// its start, so a fact's meaning (the first response, a reopening) depends
// only on what came before it, and emits the facts inside the window.
func (c *collector) conversations(ctx context.Context, a, b time.Time, out *[]Fact) error {
	ids := map[pulid.ID]bool{}
	var created []pulid.ID
	if err := c.client.Conversation.Query().Where(conversation.CreatedAtGTE(a), conversation.CreatedAtLT(b)).
		Select(conversation.FieldID).Scan(ctx, &created); err != nil {
		return fmt.Errorf("analytics: conversations: %w", err)
	}
	var msgConvs []pulid.ID
	if err := c.client.Message.Query().Where(message.SentAtGTE(a), message.SentAtLT(b)).
		Unique(true).Select(message.FieldConversationID).Scan(ctx, &msgConvs); err != nil {
		return fmt.Errorf("analytics: messages: %w", err)
	}
	var resolved []string
	if err := c.client.AuditLog.Query().Where(auditlog.Action(actionResolve), auditlog.CreatedAtGTE(a), auditlog.CreatedAtLT(b)).
		Select(auditlog.FieldTargetID).Scan(ctx, &resolved); err != nil {
		return fmt.Errorf("analytics: resolutions: %w", err)
	}
	for _, id := range created {
		ids[id] = true
	}
	for _, id := range msgConvs {
		ids[id] = true
	}
	for _, id := range resolved {
		ids[pulid.ID(id)] = true
	}
	all := make([]pulid.ID, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	slices.Sort(all)
	if err := c.loadConvs(ctx, all); err != nil {
		return err
	}
	for part := range slices.Chunk(all, chunk) {
		msgs, err := c.client.Message.Query().
			Where(message.ConversationIDIn(part...), message.SentAtLT(b), message.DirectionIn(message.DirectionInbound, message.DirectionOutbound)).
			Select(message.FieldID, message.FieldConversationID, message.FieldDirection, message.FieldAuthorKind,
				message.FieldAuthorID, message.FieldDeliveryStatus, message.FieldSentAt, message.FieldRating,
				message.FieldSentimentLabel, message.FieldSentimentScore).All(ctx)
		if err != nil {
			return fmt.Errorf("analytics: conversation messages: %w", err)
		}
		strs := make([]string, len(part))
		for i, id := range part {
			strs[i] = string(id)
		}
		audits, err := c.client.AuditLog.Query().
			Where(auditlog.Action(actionResolve), auditlog.TargetIDIn(strs...), auditlog.CreatedAtLT(b)).
			Select(auditlog.FieldID, auditlog.FieldTargetID, auditlog.FieldActor, auditlog.FieldCreatedAt).All(ctx)
		if err != nil {
			return fmt.Errorf("analytics: conversation resolutions: %w", err)
		}
		// Courtesy messages (the away and handoff messages) are the AI's
		// but answer nothing: they count as messages out, not responses.
		var courtesy []pulid.ID
		if err := c.client.AgentRun.Query().
			Where(agentrun.ConversationIDIn(part...), agentrun.DecisionEQ(agentrun.DecisionHandedOff), agentrun.ReplyMessageIDNotNil()).
			Select(agentrun.FieldReplyMessageID).Scan(ctx, &courtesy); err != nil {
			return fmt.Errorf("analytics: courtesy messages: %w", err)
		}
		notAnswer := map[pulid.ID]bool{}
		for _, id := range courtesy {
			notAnswer[id] = true
		}
		byConv := map[pulid.ID][]event{}
		for _, m := range msgs {
			byConv[m.ConversationID] = append(byConv[m.ConversationID], event{at: m.SentAt, msg: m})
		}
		for _, l := range audits {
			id := pulid.ID(l.TargetID)
			byConv[id] = append(byConv[id], event{at: l.CreatedAt, resolveBy: actorDim(l.Actor), resolve: true})
		}
		for _, id := range part {
			conv := c.convs[id]
			if conv == nil {
				continue
			}
			c.replay(conv, byConv[id], notAnswer, a, b, out)
		}
	}
	return nil
}

type event struct {
	at        time.Time
	msg       *ent.Message
	resolve   bool
	resolveBy string
}

// replay walks one conversation's events in order.
func (c *collector) replay(conv *convRow, evs []event, notAnswer map[pulid.ID]bool, a, b time.Time, out *[]Fact) {
	slices.SortStableFunc(evs, func(x, y event) int {
		if d := x.at.Compare(y.at); d != 0 {
			return d
		}
		// Messages of the same instant come before a resolution.
		if x.resolve != y.resolve {
			if x.resolve {
				return 1
			}
			return -1
		}
		if x.msg != nil && y.msg != nil {
			return cmp.Compare(x.msg.ID, y.msg.ID)
		}
		return 0
	})
	in := func(t time.Time) bool { return !t.Before(a) && t.Before(b) }
	emit := func(t time.Time, metric, dim string, sum, bsum int64) {
		*out = append(*out, Fact{At: t, ChannelID: conv.ChannelID, Kind: conv.Kind, Metric: metric, Dim: dim,
			Count: 1, Sum: sum, BusinessSum: bsum, ConversationID: conv.ID})
	}
	if in(conv.CreatedAt) {
		emit(conv.CreatedAt, mOpened, "", 0, 0)
		emit(conv.CreatedAt, mOpenDelta, "", 1, 0)
	}
	var firstIn, pending *time.Time
	responded, resolved, person, ai := false, false, false, false
	for _, e := range evs {
		t := e.at
		if !t.Before(b) {
			break
		}
		if e.resolve {
			if in(t) {
				emit(t, mResolved, e.resolveBy, 0, 0)
				emit(t, mResolution, e.resolveBy, seconds(conv.CreatedAt, t), c.hours.seconds(conv.CreatedAt, t))
				if !person && ai {
					emit(t, mResolvedNoPerson, "", 0, 0)
				}
				if !resolved {
					*out = append(*out, Fact{At: t, ChannelID: conv.ChannelID, Kind: conv.Kind, Metric: mOpenDelta,
						Count: 1, Sum: -1, ConversationID: conv.ID})
				}
			}
			resolved, pending = true, nil
			continue
		}
		m := e.msg
		switch m.Direction {
		case message.DirectionInbound:
			if in(t) {
				emit(t, mIn, "", 0, 0)
				if conv.Kind == string(conversation.KindReview) && m.Rating != nil {
					emit(t, mReviews, strconv.Itoa(*m.Rating), int64(*m.Rating), 0)
				}
				if m.SentimentLabel != nil && m.SentimentScore != nil {
					emit(t, mSentiment, string(*m.SentimentLabel), int64(math.Round(*m.SentimentScore*1e6)), 0)
				}
				if resolved {
					emit(t, mOpenDelta, "", 1, 0)
				}
			}
			if firstIn == nil {
				firstIn = &t
			}
			if pending == nil {
				pending = &t
			}
			resolved = false
		case message.DirectionOutbound:
			if m.DeliveryStatus == message.DeliveryStatusDraft || m.DeliveryStatus == message.DeliveryStatusDiscarded {
				continue
			}
			who := actorDim(m.AuthorID)
			if m.AuthorKind == message.AuthorKindAI {
				who = AI
			}
			if in(t) {
				emit(t, mOut, who, 0, 0)
			}
			answer := (m.AuthorKind == message.AuthorKindAgent || m.AuthorKind == message.AuthorKindAI) && !notAnswer[m.ID]
			if !answer {
				continue
			}
			if m.AuthorKind == message.AuthorKindAI {
				ai = true
			} else {
				person = true
			}
			if firstIn != nil && !responded {
				responded = true
				if in(t) {
					emit(t, mFirstResponse, who, seconds(*firstIn, t), c.hours.seconds(*firstIn, t))
				}
			}
			if pending != nil {
				if in(t) {
					emit(t, mReply, who, seconds(*pending, t), c.hours.seconds(*pending, t))
				}
				pending = nil
			}
		}
	}
}

// actorDim is a member's dimension value: the user ID of "user:…" actors,
// else the actor as recorded (an API key, an echo with no author).
func actorDim(actor string) string {
	if id, ok := strings.CutPrefix(actor, "user:"); ok {
		return id
	}
	return actor
}

func seconds(from, to time.Time) int64 { return int64(to.Sub(from) / time.Second) }

// agentRuns counts the agent's decisions.
func (c *collector) agentRuns(ctx context.Context, a, b time.Time, out *[]Fact) error {
	runs, err := c.client.AgentRun.Query().Where(agentrun.CreatedAtGTE(a), agentrun.CreatedAtLT(b)).
		Select(agentrun.FieldID, agentrun.FieldConversationID, agentrun.FieldDecision, agentrun.FieldReason, agentrun.FieldCreatedAt).All(ctx)
	if err != nil {
		return fmt.Errorf("analytics: agent runs: %w", err)
	}
	ids := make([]pulid.ID, len(runs))
	for i, r := range runs {
		ids[i] = r.ConversationID
	}
	if err := c.loadConvs(ctx, ids); err != nil {
		return err
	}
	for _, r := range runs {
		conv := c.convs[r.ConversationID]
		if conv == nil {
			continue
		}
		f := Fact{At: r.CreatedAt, ChannelID: conv.ChannelID, Kind: conv.Kind, Count: 1, ConversationID: conv.ID}
		switch r.Decision {
		case agentrun.DecisionSent:
			f.Metric = mAIAnswers
		case agentrun.DecisionDrafted:
			f.Metric = mAIDrafts
		case agentrun.DecisionHandedOff:
			reason := ReasonCategory(r.Reason)
			if reason == "" {
				continue // a message of a conversation already handed off
			}
			f.Metric, f.Dim = mAIHandoffs, reason
			if reason == ReasonNoAnswer {
				g := f
				g.Metric, g.Dim = mKBRefusals, ""
				*out = append(*out, g)
			}
		default:
			continue
		}
		*out = append(*out, f)
	}
	return nil
}

// ReasonCategory groups an agent run's handoff reason; "" for runs that
// found the conversation already handed off (no new handoff).
func ReasonCategory(reason string) string {
	switch {
	case strings.HasPrefix(reason, "already handed off"):
		return ""
	case strings.Contains(reason, "asked for a human"):
		return ReasonHumanRequested
	case strings.Contains(reason, "negative sentiment"):
		return ReasonNegativeSentiment
	case strings.Contains(reason, "window"):
		return ReasonWindowClosed
	case strings.Contains(reason, "cannot see"):
		return ReasonAttachment
	case strings.Contains(reason, "knowledge base has no answer"):
		return ReasonNoAnswer
	case strings.Contains(reason, "confidence"):
		return ReasonLowConfidence
	case strings.Contains(reason, "does not cover"):
		return ReasonPartialAnswer
	case strings.HasPrefix(reason, "sending the answer failed"):
		return ReasonSendFailed
	}
	return ReasonOther
}

// drafts counts approvals and discards of AI drafts (audited actions).
func (c *collector) drafts(ctx context.Context, a, b time.Time, out *[]Fact) error {
	logs, err := c.client.AuditLog.Query().
		Where(auditlog.ActionIn(actionApprove, actionDiscard), auditlog.CreatedAtGTE(a), auditlog.CreatedAtLT(b)).
		Select(auditlog.FieldID, auditlog.FieldAction, auditlog.FieldTargetID, auditlog.FieldMetadata, auditlog.FieldCreatedAt).All(ctx)
	if err != nil {
		return fmt.Errorf("analytics: draft actions: %w", err)
	}
	if len(logs) == 0 {
		return nil
	}
	msgConv := map[pulid.ID]pulid.ID{}
	ids := make([]pulid.ID, len(logs))
	for i, l := range logs {
		ids[i] = pulid.ID(l.TargetID)
	}
	for part := range slices.Chunk(ids, chunk) {
		ms, err := c.client.Message.Query().Where(message.IDIn(part...)).
			Select(message.FieldID, message.FieldConversationID).All(ctx)
		if err != nil {
			return fmt.Errorf("analytics: drafts: %w", err)
		}
		for _, m := range ms {
			msgConv[m.ID] = m.ConversationID
		}
	}
	convIDs := make([]pulid.ID, 0, len(msgConv))
	for _, cid := range msgConv {
		convIDs = append(convIDs, cid)
	}
	if err := c.loadConvs(ctx, convIDs); err != nil {
		return err
	}
	for _, l := range logs {
		conv := c.convs[msgConv[pulid.ID(l.TargetID)]]
		if conv == nil {
			continue
		}
		f := Fact{At: l.CreatedAt, ChannelID: conv.ChannelID, Kind: conv.Kind, Count: 1, ConversationID: conv.ID}
		if l.Action == actionDiscard {
			f.Metric = mAIDiscarded
			*out = append(*out, f)
			continue
		}
		f.Metric = mAIApproved
		*out = append(*out, f)
		if l.Metadata["edited"] == "true" {
			f.Metric = mAIEdited
			*out = append(*out, f)
		}
	}
	return nil
}

// posts counts publishing outcomes per target (one post on one channel):
// a published one at published_at, a failed one at failed_at (when it
// became FAILED). Both are set with the status and move only when the
// status does, so a later update of the row (updated_at) neither moves a
// fact to another hour nor counts it twice.
func (c *collector) posts(ctx context.Context, a, b time.Time, out *[]Fact) error {
	ts, err := c.client.PostTarget.Query().Where(posttarget.Or(
		posttarget.And(posttarget.StatusEQ(posttarget.StatusPublished), posttarget.PublishedAtGTE(a), posttarget.PublishedAtLT(b)),
		posttarget.And(posttarget.StatusEQ(posttarget.StatusFailed), posttarget.FailedAtGTE(a), posttarget.FailedAtLT(b)),
	)).Select(posttarget.FieldID, posttarget.FieldChannelID, posttarget.FieldStatus, posttarget.FieldPublishedAt, posttarget.FieldFailedAt).All(ctx)
	if err != nil {
		return fmt.Errorf("analytics: post targets: %w", err)
	}
	for _, t := range ts {
		f := Fact{ChannelID: t.ChannelID, Kind: KindPost, Count: 1}
		if t.Status == posttarget.StatusPublished {
			f.At, f.Metric = *t.PublishedAt, mPostsPublished
		} else {
			f.At, f.Metric = *t.FailedAt, mPostsFailed
		}
		*out = append(*out, f)
	}
	return nil
}
