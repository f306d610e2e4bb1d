package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/label"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/user"
)

// Dimension is what a breakdown groups by (the GraphQL
// AnalyticsDimension enum).
type Dimension string

// Dimensions of breakdowns.
const (
	ByChannel   Dimension = "CHANNEL"
	ByPlatform  Dimension = "PLATFORM"
	ByKind      Dimension = "KIND"
	ByAssignee  Dimension = "ASSIGNEE"
	ByLabel     Dimension = "LABEL"
	BySentiment Dimension = "SENTIMENT"
	ByRating    Dimension = "RATING"
	ByReason    Dimension = "REASON"
	ByMember    Dimension = "MEMBER"
)

// Row is one group of a breakdown.
type Row struct {
	Key   string
	Label string
	Value *float64
}

// Breakdown computes a metric per group. Groups of the facts' own
// dimension (a member, a reason, a rating) and of channels and kinds come
// from rollups; the conversation's current assignee, labels, sentiment
// and rating come from the base tables.
func (r *Report) Breakdown(ctx context.Context, name Metric, by Dimension) ([]Row, error) {
	d, ok := Lookup(name)
	if !ok {
		return nil, apperr.Invalid("metric", "unknown metric %q", name)
	}
	if d.Agg == AggOpen {
		return nil, apperr.Invalid("metric", "%s has no breakdown: it is a count at one instant", name)
	}
	from, to := r.req.Range.From, r.req.Range.To
	g := gNone
	switch {
	case by == ByChannel || by == ByPlatform:
		g = gChannel
	case by == ByKind:
	case string(by) == string(d.Dim):
		g = gDim
	case by == ByAssignee || by == ByLabel || by == BySentiment || by == ByRating:
		g = gConv
	case by == ByMember || by == ByReason:
		return nil, apperr.Invalid("by", "%s has no %s dimension", name, by)
	default:
		return nil, apperr.Invalid("by", "unknown dimension %q", by)
	}
	cs, err := r.aggregate(ctx, from, to, []string{d.Fact}, g, r.rollupsUsable())
	if err != nil {
		return nil, err
	}
	keyOf := func(k cellKey) []string { return []string{k.Group} }
	labels := map[string]string{}
	switch by {
	case ByKind:
		keyOf = func(k cellKey) []string { return []string{k.Kind} }
	case ByChannel, ByPlatform:
		chs, err := r.client.Channel.Query().Select(channel.FieldID, channel.FieldName, channel.FieldPlatform).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("analytics: channels: %w", err)
		}
		platform := map[string]string{}
		for _, c := range chs {
			labels[string(c.ID)] = c.Name
			platform[string(c.ID)] = c.Platform
		}
		if by == ByPlatform {
			keyOf = func(k cellKey) []string { return []string{platform[k.Group]} }
			labels = map[string]string{}
		}
	}
	if g == gConv {
		if keyOf, err = r.convAttribute(ctx, cs, by, labels); err != nil {
			return nil, err
		}
	}
	groups := map[string]cells{}
	for k, v := range cs {
		for _, key := range keyOf(k) {
			if groups[key] == nil {
				groups[key] = cells{}
			}
			kk := k
			kk.Group, kk.T = "", 0
			groups[key].add(kk, v.Count, v.Sum, v.BSum)
		}
	}
	if by == ByMember || by == ByAssignee {
		if err := r.memberLabels(ctx, groups, labels); err != nil {
			return nil, err
		}
	}
	out := make([]Row, 0, len(groups))
	for key, gc := range groups {
		v := r.value(d, gc, nil)
		if d.Agg == AggCount && (v == nil || *v == 0) {
			continue
		}
		if d.Agg != AggCount && v == nil {
			continue
		}
		l := labels[key]
		if l == "" {
			l = key
		}
		out = append(out, Row{Key: key, Label: l, Value: v})
	}
	slices.SortFunc(out, func(a, b Row) int {
		if c := compareDesc(a.Value, b.Value); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

func compareDesc(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	case *a > *b:
		return -1
	case *a < *b:
		return 1
	}
	return 0
}

// convAttribute maps conversation cells to the conversation's current
// assignee, labels, sentiment or rating.
func (r *Report) convAttribute(ctx context.Context, cs cells, by Dimension, labels map[string]string) (func(cellKey) []string, error) {
	ids := map[pulid.ID]bool{}
	for k := range cs {
		if k.Group != "" {
			ids[pulid.ID(k.Group)] = true
		}
	}
	all := make([]pulid.ID, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	attr := map[string][]string{}
	for part := range slices.Chunk(all, chunk) {
		q := r.client.Conversation.Query().Where(conversation.IDIn(part...))
		if by == ByLabel {
			q.WithLabels()
		}
		convs, err := q.All(ctx)
		if err != nil {
			return nil, fmt.Errorf("analytics: conversations: %w", err)
		}
		for _, c := range convs {
			var vs []string
			switch by {
			case ByAssignee:
				if c.AssigneeID != nil {
					vs = []string{string(*c.AssigneeID)}
				} else {
					vs = []string{""}
				}
			case ByLabel:
				for _, l := range c.Edges.Labels {
					vs = append(vs, string(l.ID))
					labels[string(l.ID)] = l.Name
				}
			case BySentiment:
				if c.SentimentLabel != nil {
					vs = []string{string(*c.SentimentLabel)}
				}
			case ByRating:
				if c.Rating != nil {
					vs = []string{fmt.Sprint(*c.Rating)}
				}
			}
			attr[string(c.ID)] = vs
		}
	}
	if by == ByAssignee {
		labels[""] = "Unassigned"
	}
	return func(k cellKey) []string { return attr[k.Group] }, nil
}

// memberLabels names the members among the groups.
func (r *Report) memberLabels(ctx context.Context, groups map[string]cells, labels map[string]string) error {
	labels[AI] = "AI agent"
	var ids []pulid.ID
	for k := range groups {
		if strings.HasPrefix(k, "usr") {
			ids = append(ids, pulid.ID(k))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	us, err := r.client.User.Query().Where(user.IDIn(ids...)).All(ctx)
	if err != nil {
		return fmt.Errorf("analytics: members: %w", err)
	}
	for _, u := range us {
		labels[string(u.ID)] = u.Email
		if u.Name != "" {
			labels[string(u.ID)] = u.Name
		}
	}
	return nil
}

// Refusal is a question the knowledge base could not answer.
type Refusal struct {
	Question string
	Count    int
	LastAt   time.Time
}

// Refusals lists the questions the agent handed off because the knowledge
// base had no answer, most frequent first: what the business should add.
// Questions are grouped by their normalized text.
func (r *Report) Refusals(ctx context.Context, first int) ([]Refusal, error) {
	if r.empty {
		return []Refusal{}, nil
	}
	runs, err := r.client.AgentRun.Query().Where(agentrun.DecisionEQ(agentrun.DecisionHandedOff),
		agentrun.CreatedAtGTE(r.req.Range.From), agentrun.CreatedAtLT(r.req.Range.To),
		agentrun.ReasonContains("knowledge base has no answer")).
		Select(agentrun.FieldID, agentrun.FieldMessageID, agentrun.FieldConversationID, agentrun.FieldCreatedAt).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("analytics: refusals: %w", err)
	}
	byKey := map[string]*Refusal{}
	for part := range slices.Chunk(runs, chunk) {
		ids := make([]pulid.ID, len(part))
		at := map[pulid.ID]time.Time{}
		for i, run := range part {
			ids[i] = run.MessageID
			at[run.MessageID] = run.CreatedAt
		}
		ms, err := r.client.Message.Query().Where(message.IDIn(ids...)).
			Select(message.FieldID, message.FieldText, message.FieldChannelID, message.FieldConversationID).
			WithConversation(func(q *ent.ConversationQuery) { q.Select(conversation.FieldID, conversation.FieldKind) }).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("analytics: refused questions: %w", err)
		}
		for _, m := range ms {
			f := Fact{ChannelID: m.ChannelID, ConversationID: m.ConversationID}
			if m.Edges.Conversation != nil {
				f.Kind = string(m.Edges.Conversation.Kind)
			}
			if !r.allow(&f) {
				continue
			}
			key := normalizeQuestion(m.Text)
			if key == "" {
				continue
			}
			rf := byKey[key]
			if rf == nil {
				rf = &Refusal{Question: strings.TrimSpace(m.Text)}
				byKey[key] = rf
			}
			rf.Count++
			if t := at[m.ID]; t.After(rf.LastAt) {
				rf.LastAt = t
			}
		}
	}
	out := make([]Refusal, 0, len(byKey))
	for _, rf := range byKey {
		out = append(out, *rf)
	}
	slices.SortFunc(out, func(a, b Refusal) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Question, b.Question)
	})
	if first > 0 && len(out) > first {
		out = out[:first]
	}
	return out, nil
}

// normalizeQuestion folds case, spacing and trailing punctuation, so
// "Do you ship to Canada?" and "do you ship to canada" are one question.
func normalizeQuestion(s string) string {
	s = strings.Join(strings.Fields(strings.ToLower(s)), " ")
	return strings.TrimRight(s, "?!.,;: ")
}

// MostNegative lists the conversations with the lowest sentiment among
// those active in the range.
func (r *Report) MostNegative(ctx context.Context, first int) ([]*ent.Conversation, error) {
	if r.empty {
		return []*ent.Conversation{}, nil
	}
	q := r.client.Conversation.Query().Where(conversation.SentimentScoreNotNil(),
		conversation.LastMessageAtGTE(r.req.Range.From), conversation.LastMessageAtLT(r.req.Range.To))
	if r.channels != nil {
		q.Where(conversation.ChannelIDIn(r.channelIDs()...))
	}
	if r.kinds != nil {
		ks := make([]conversation.Kind, 0, len(r.kinds))
		for k := range r.kinds {
			ks = append(ks, conversation.Kind(k))
		}
		q.Where(conversation.KindIn(ks...))
	}
	if f := r.req.Filter; len(f.AssigneeIDs) > 0 {
		q.Where(conversation.AssigneeIDIn(f.AssigneeIDs...))
	}
	if f := r.req.Filter; len(f.LabelIDs) > 0 {
		q.Where(conversation.HasLabelsWith(label.IDIn(f.LabelIDs...)))
	}
	first = max(1, min(first, 100))
	return q.Order(ent.Asc(conversation.FieldSentimentScore), ent.Asc(conversation.FieldID)).Limit(first).All(ctx)
}
