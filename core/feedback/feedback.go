// Package feedback scores the sentiment of what customers write: every new
// inbound message gets a sentiment.analyze job (queued by an inbox
// OnInbound hook in the ingesting transaction) that stores a label and a
// score in [-1,1] on the message and rolls the latest scores up on its
// conversation, so `conversations(where: {sentimentLabel: NEGATIVE})` finds
// the unhappy ones.
package feedback

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// DefaultWindow is how many of the latest scored inbound messages the
// conversation's roll-up averages: recent enough to follow a mood change,
// long enough that one terse message does not flip it.
const DefaultWindow = 5

// Neutral is the dead zone around 0 (the VADER convention ai uses too).
const Neutral = 0.05

// Service analyses sentiment.
type Service struct {
	Store    *store.Store
	Provider ai.Provider
	Log      *slog.Logger
	// Window overrides DefaultWindow when positive.
	Window int
}

// Hook queues a sentiment.analyze job for every new inbound message from a
// contact (inbox.Service.OnInbound), and for every edit of one
// (inbox.Service.OnEdited: an edited review is scored again).
func (s *Service) Hook() inbox.InboundHook {
	return func(ctx context.Context, tx *store.Tx, _ *ent.Channel, _ *ent.Conversation, msg *ent.Message) error {
		if msg.Direction != message.DirectionInbound || msg.AuthorKind != message.AuthorKindContact {
			return nil
		}
		return tx.InsertJob(ctx, jobargs.SentimentAnalyze{WorkspaceID: string(msg.WorkspaceID), MessageID: string(msg.ID)}, nil)
	}
}

// RatingScore is the sentiment of a review that has stars and no
// comment: 1 and 2 stars are negative, 3 neutral, 4 and 5 positive.
func RatingScore(stars int) float64 {
	switch stars {
	case 1:
		return -0.8
	case 2:
		return -0.4
	case 4:
		return 0.4
	case 5:
		return 0.8
	}
	return 0
}

// Label turns a score into the stored label.
func Label(score float64) message.SentimentLabel {
	switch {
	case score >= Neutral:
		return message.SentimentLabelPositive
	case score <= -Neutral:
		return message.SentimentLabelNegative
	}
	return message.SentimentLabelNeutral
}

// Analyze scores one message and updates its conversation's roll-up. ctx
// carries a system viewer of the message's workspace. A retryable provider
// failure is returned for the job to retry; with final set, or for a
// permanent failure, the lexicon model scores the message instead.
func (s *Service) Analyze(ctx context.Context, messageID pulid.ID, final bool) error {
	msg, err := s.Store.Ent.Message.Get(ctx, messageID)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("feedback: loading message: %w", err)
	}
	if msg.Direction != message.DirectionInbound {
		return nil
	}
	var sent ai.Sentiment
	switch {
	case strings.TrimSpace(msg.Text) != "":
		sent, err = s.Provider.Sentiment(ctx, msg.Text)
	case msg.Rating != nil:
		// A rating without a comment: the stars are all the customer said.
		sent = ai.Sentiment{Score: RatingScore(*msg.Rating)}
	default:
		return nil
	}
	if err != nil {
		if ai.Retryable(err) && !final {
			return err
		}
		if s.Log != nil {
			s.Log.Warn("feedback: provider sentiment failed; using the lexicon model", "message", msg.ID, "err", err)
		}
		sent = ai.LexiconSentiment(msg.Text)
	}
	score := max(-1, min(1, sent.Score))
	window := s.Window
	if window <= 0 {
		window = DefaultWindow
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Ent.Message.UpdateOneID(msg.ID).
			SetSentimentScore(score).
			SetSentimentLabel(Label(score)).
			Exec(ctx); err != nil {
			return fmt.Errorf("feedback: storing sentiment: %w", err)
		}
		latest, err := tx.Ent.Message.Query().
			Where(message.ConversationID(msg.ConversationID), message.DirectionEQ(message.DirectionInbound),
				message.SentimentScoreNotNil()).
			Order(ent.Desc(message.FieldSentAt), ent.Desc(message.FieldID)).
			Limit(window).
			All(ctx)
		if err != nil {
			return fmt.Errorf("feedback: loading scores: %w", err)
		}
		var sum float64
		for _, m := range latest {
			sum += *m.SentimentScore
		}
		mean := sum / float64(max(1, len(latest)))
		if err := tx.Ent.Conversation.UpdateOneID(msg.ConversationID).
			SetSentimentScore(mean).
			SetSentimentLabel(conversation.SentimentLabel(Label(mean))).
			Exec(ctx); err != nil {
			return fmt.Errorf("feedback: rolling up: %w", err)
		}
		ws := string(msg.WorkspaceID)
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: ws, ObjectID: string(msg.ID),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: ws, ObjectID: string(msg.ConversationID),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		return nil
	})
}
