// Package sentiment scores the sentiment of what customers write. With a
// local model (the built-in one, ai.LocalSentiment) a new inbound message
// is scored as it is ingested and its conversation rolled up in the same
// transaction (inbox OnInboundCreate and OnInboundUpdate hooks); with an external
// model it queues its conversation's sentiment.analyze job (an OnInbound
// hook in the ingesting transaction; one job scores every message the
// conversation received meanwhile). An edited message gets a
// sentiment.analyze job of its own. Each stores a label and a score in
// [-1,1] on the message and rolls the latest scores up on its
// conversation, so `conversations(where: {sentimentLabel: NEGATIVE})`
// finds the unhappy ones.
package sentiment

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/memo"
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

// window is how many of the latest scores a roll-up averages.
func (s *Service) window() int {
	if s.Window > 0 {
		return s.Window
	}
	return DefaultWindow
}

// Hook queues a sentiment.analyze job for every new inbound message from a
// contact, and for every edit of one (inbox.Service.OnEdited: an edited
// review is scored again).
func (s *Service) Hook() inbox.InboundHook {
	return func(ctx context.Context, tx *store.Tx, _ *ent.Channel, _ *ent.Conversation, msg *ent.Message) error {
		if msg.Direction != message.DirectionInbound || msg.AuthorKind != message.AuthorKindContact {
			return nil
		}
		return tx.InsertJob(ctx, jobargs.SentimentAnalyze{WorkspaceID: string(msg.WorkspaceID), MessageID: string(msg.ID)}, nil)
	}
}

// ScoreHook scores a new inbound message from a contact as it is stored
// (inbox.Service.OnInboundCreate) when the provider's model is local
// (ai.LocalSentiment: the built-in lexicon model, deterministic, a few
// microseconds, no I/O): the message is stored with its score and label,
// and ConversationHook rolls its conversation up in the same transaction.
// That saves what a job costs the database for each message (its insert,
// fetch, transaction and completion). With a provider that is not local
// (an external model: network calls, retries) it sets nothing, and the
// message waits for its conversation's job as before.
func (s *Service) ScoreHook() inbox.InboundCreateHook {
	return func(_ context.Context, _ *store.Tx, _ *ent.Channel, _ *ent.Conversation, create *ent.MessageCreate) error {
		scorer := ai.SentimentScorer(s.Provider)
		if scorer == nil {
			return nil
		}
		mu := create.Mutation()
		if dir, _ := mu.Direction(); dir != message.DirectionInbound {
			return nil
		}
		if kind, _ := mu.AuthorKind(); kind != message.AuthorKindContact {
			return nil
		}
		text, _ := mu.Text()
		var rating *int
		if r, ok := mu.Rating(); ok {
			rating = &r
		}
		score, ok, _ := scoreOf(text, rating, func(text string) (ai.Sentiment, error) { return scorer(text), nil })
		if ok { // else nothing to score (a photo alone)
			create.SetSentimentScore(score).SetSentimentLabel(Label(score))
		}
		return nil
	}
}

// Attach wires the service into an inbox as the server runs it:
// ScoreHook, RollUpHook and ConversationHook.
func (s *Service) Attach(in *inbox.Service) {
	in.OnInboundCreate = append(in.OnInboundCreate, s.ScoreHook())
	in.OnInboundUpdate = append(in.OnInboundUpdate, s.RollUpHook())
	in.OnInbound = append(in.OnInbound, s.ConversationHook())
}

// RollUpHook rolls up the conversation of a new inbound message that
// ScoreHook scored as it was stored, within the conversation's update that
// follows the message (inbox.Service.OnInboundUpdate: rollUpSetter, no
// statement of its own). The ingest emits the conversation's event.
func (s *Service) RollUpHook() inbox.InboundUpdateHook {
	return func(_ context.Context, _ *ent.Channel, _ *ent.Conversation, msg *ent.Message, u *ent.ConversationUpdate) bool {
		if msg.SentimentScore == nil || msg.Direction != message.DirectionInbound || msg.AuthorKind != message.AuthorKindContact {
			return false
		}
		u.Modify(s.rollUpSetter(msg.WorkspaceID, msg.ConversationID))
		return true
	}
}

// ConversationHook follows every new inbound message from a contact
// (inbox.Service.OnInbound). One that ScoreHook scored as it was stored
// is rolled up already (RollUpHook). Any other queues its conversation's
// sentiment.analyze job: one waits per conversation at a time, and it
// scores every message that came in meanwhile (see AnalyzeConversation).
func (s *Service) ConversationHook() inbox.InboundHook {
	return func(ctx context.Context, tx *store.Tx, _ *ent.Channel, _ *ent.Conversation, msg *ent.Message) error {
		if msg.Direction != message.DirectionInbound || msg.AuthorKind != message.AuthorKindContact {
			return nil
		}
		if msg.SentimentScore != nil {
			return nil // scored as it was stored: RollUpHook rolled it up
		}
		return tx.InsertJobOnce(ctx, "sentiment:"+string(msg.ConversationID),
			jobargs.SentimentAnalyze{WorkspaceID: string(msg.WorkspaceID), ConversationID: string(msg.ConversationID)},
			jobargs.SentimentConversationOpts())
	}
}

// BatchSize bounds the messages one conversation's sentiment job scores; a
// conversation with more queues another job for the rest.
const BatchSize = 200

// AnalyzeConversation scores the inbound messages of a conversation that
// have no score yet and updates its roll-up; complete marks the job done
// in the same transaction. ctx carries a system viewer of the
// conversation's workspace. A retryable provider failure is returned
// (classified by core/ai: ai.Retryable, ai.RetryAfter) for the job layer to
// retry; other provider failures fall back to the lexicon model. On the
// job's last attempt the worker calls AnalyzeConversationFallback instead.
//
// The messages are read and scored outside any transaction (a model may
// be slow). The transaction then takes the conversation's row lock, which
// every ingesting transaction holds from its conversation lookup to its
// commit, and completes the job in it: a message committed before the lock
// is seen by the re-read below (and, if it was not scored, gets a job of
// its own), one committed after it finds this job completed, so its own
// job is queued. No message is left without a job that will see it.
func (s *Service) AnalyzeConversation(ctx context.Context, convID pulid.ID, complete func(tx *store.Tx) error) error {
	return s.analyzeConversation(ctx, convID, false, complete)
}

// AnalyzeConversationFallback is AnalyzeConversation when the job gives up
// retrying: a message the provider fails to score, even retryably, is
// scored by the lexicon model, so it returns no retryable provider error.
func (s *Service) AnalyzeConversationFallback(ctx context.Context, convID pulid.ID, complete func(tx *store.Tx) error) error {
	return s.analyzeConversation(ctx, convID, true, complete)
}

func (s *Service) analyzeConversation(ctx context.Context, convID pulid.ID, fallback bool, complete func(tx *store.Tx) error) error {
	unscored := func(c *ent.Client) *ent.MessageQuery {
		return c.Message.Query().Where(message.ConversationID(convID), message.DirectionEQ(message.DirectionInbound),
			message.AuthorKindEQ(message.AuthorKindContact), message.SentimentScoreIsNil(), message.DeletedAtIsNil(),
			message.Or(message.TextNEQ(""), message.RatingNotNil()))
	}
	msgs, err := unscored(s.Store.Ent).Order(ent.Asc(message.FieldSentAt), ent.Asc(message.FieldID)).Limit(BatchSize).All(ctx)
	if err != nil {
		return fmt.Errorf("feedback: loading unscored messages: %w", err)
	}
	scores := make(map[pulid.ID]float64, len(msgs))
	var scored []*ent.Message
	for _, msg := range msgs {
		score, ok, err := s.score(ctx, msg, fallback)
		if err != nil {
			return err
		}
		if ok {
			scores[msg.ID] = score
			scored = append(scored, msg)
		}
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if s.Store.Dialect == dialect.Postgres { // SQLite runs one transaction at a time
			if _, err := tx.Ent.Conversation.Query().Where(conversation.ID(convID)).ForUpdate().IDs(ctx); err != nil {
				return fmt.Errorf("feedback: locking the conversation: %w", err)
			}
		}
		for _, msg := range scored {
			if err := tx.Ent.Message.Update().Where(message.ID(msg.ID)).
				SetSentimentScore(scores[msg.ID]).SetSentimentLabel(Label(scores[msg.ID])).Exec(ctx); err != nil {
				return fmt.Errorf("feedback: storing sentiment: %w", err)
			}
			tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
				ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		}
		if len(scored) > 0 {
			if err := s.rollUp(ctx, tx, scored[0]); err != nil {
				return err
			}
		}
		// What came in since the read (or past the batch): another job.
		left, err := unscored(tx.Ent).Where(message.IDNotIn(idsOf(msgs)...)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("feedback: looking for unscored messages: %w", err)
		}
		if err := complete(tx); err != nil {
			return fmt.Errorf("feedback: completing the job: %w", err)
		}
		if left {
			ws := tenant.FromContext(ctx).WorkspaceID
			return tx.InsertJobOnce(ctx, "sentiment:"+string(convID), jobargs.SentimentAnalyze{WorkspaceID: ws, ConversationID: string(convID)}, jobargs.SentimentConversationOpts())
		}
		return nil
	})
}

func idsOf(msgs []*ent.Message) []pulid.ID {
	ids := make([]pulid.ID, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

// score is a message's sentiment score; ok is false when it has nothing
// to score. A retryable provider failure is returned unless fallback;
// other failures fall back to the lexicon model.
func (s *Service) score(ctx context.Context, msg *ent.Message, fallback bool) (float64, bool, error) {
	return scoreOf(msg.Text, msg.Rating, func(text string) (ai.Sentiment, error) {
		sent, err := s.Provider.Sentiment(ctx, text)
		if err == nil {
			return sent, nil
		}
		if ai.Retryable(err) && !fallback {
			return sent, err
		}
		if s.Log != nil {
			s.Log.Warn("feedback: provider sentiment failed; using the lexicon model", "message", msg.ID, "err", err)
		}
		return builtin.LexiconSentiment(text), nil
	})
}

// scoreOf is the score of what a message says: its text's (byText), else,
// for a review of stars alone, the stars' (RatingScore), within [-1, 1];
// ok is false when it has neither (a photo alone).
func scoreOf(text string, rating *int, byText func(string) (ai.Sentiment, error)) (score float64, ok bool, err error) {
	var sent ai.Sentiment
	switch {
	case strings.TrimSpace(text) != "":
		if sent, err = byText(text); err != nil {
			return 0, false, err
		}
	case rating != nil:
		// A rating without a comment: the stars are all the customer said.
		sent = ai.Sentiment{Score: RatingScore(*rating)}
	default:
		return 0, false, nil
	}
	return max(-1, min(1, sent.Score)), true, nil
}

// rollUp stores on msg's conversation the mean of its latest scores
// (storeRollUp) and emits the conversation's ConversationUpdated.
func (s *Service) rollUp(ctx context.Context, tx *store.Tx, msg *ent.Message) error {
	if err := s.storeRollUp(ctx, tx, msg); err != nil {
		return err
	}
	tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ConversationID),
		ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
	return nil
}

// storeRollUp stores on the conversation of msg the mean of its latest
// scores and its label (rollUpSetter), in one statement. The caller holds
// the conversation's row lock (a job by SELECT … FOR UPDATE; SQLite runs
// one transaction at a time), so this later statement (PostgreSQL's READ
// COMMITTED takes a statement's snapshot when it starts) sees every
// message committed by a transaction that held the lock before, and no
// other can commit one until this transaction does.
func (s *Service) storeRollUp(ctx context.Context, tx *store.Tx, msg *ent.Message) error {
	err := tx.Ent.Conversation.Update().Where(conversation.ID(msg.ConversationID)).
		Modify(s.rollUpSetter(msg.WorkspaceID, msg.ConversationID)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("feedback: rolling up: %w", err)
	}
	return nil
}

// rollUpSetter sets a conversation's sentiment score to the mean of its
// latest s.Window inbound scores (newest first by sent_at, then ID) and its
// label to Label of that mean, as part of an update of the conversation:
// one row-valued SET from one subquery, which reads the scores once,
// without reading them into Go (an ingest runs it within its conversation
// update, see RollUpHook and core/webhook's TestStatementsPerDelivery).
// The subquery's text is built once per dialect and window (rollUpText).
func (s *Service) rollUpSetter(ws, conv pulid.ID) func(*entsql.UpdateBuilder) {
	text := rollUpText(s.Store.Dialect, s.window())
	return func(u *entsql.UpdateBuilder) {
		// The column list is written as given: ent's builder writes a
		// name with parentheses as is (as it does a function call).
		u.Set("("+conversation.FieldSentimentScore+", "+conversation.FieldSentimentLabel+")",
			entsql.ExprFunc(func(b *entsql.Builder) {
				b.WriteString(text.head).Arg(ws).WriteString(text.mid).Arg(conv).WriteString(text.tail)
			}))
	}
}

// rollUpSQL is the roll-up's subquery around its two parameters: the
// workspace (the tenant filter, as the privacy policy adds to every
// query) and the conversation.
type rollUpSQL struct{ head, mid, tail string }

var rollUpTexts memo.Map[rollUpKey, rollUpSQL]

type rollUpKey struct {
	dialect string
	window  int
}

func rollUpText(d string, window int) rollUpSQL {
	return rollUpTexts.Get(rollUpKey{d, window}, buildRollUpText)
}

func buildRollUpText(key rollUpKey) rollUpSQL {
	d, window := key.dialect, key.window
	q := func(ident string) string { return entsql.Dialect(d).Select().Quote(ident) }
	lit := func(v string) string { return "'" + v + "'" } // constants of this package only
	mean := "AVG(" + q("w") + "." + q("s") + ")"
	return rollUpSQL{
		head: "(SELECT " + mean + ", CASE" +
			" WHEN " + mean + " >= " + strconv.FormatFloat(Neutral, 'g', -1, 64) + " THEN " + lit(string(conversation.SentimentLabelPositive)) +
			" WHEN " + mean + " <= " + strconv.FormatFloat(-Neutral, 'g', -1, 64) + " THEN " + lit(string(conversation.SentimentLabelNegative)) +
			" ELSE " + lit(string(conversation.SentimentLabelNeutral)) + " END" +
			" FROM (SELECT " + q(message.FieldSentimentScore) + " AS " + q("s") + " FROM " + q(message.Table) +
			" WHERE " + q(message.FieldWorkspaceID) + " = ",
		mid: " AND " + q(message.FieldConversationID) + " = ",
		tail: " AND " + q(message.FieldDirection) + " = " + lit(string(message.DirectionInbound)) +
			" AND " + q(message.FieldSentimentScore) + " IS NOT NULL" +
			" ORDER BY " + q(message.FieldSentAt) + " DESC, " + q(message.FieldID) + " DESC" +
			" LIMIT " + strconv.Itoa(window) + ") AS " + q("w") + ")",
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
// failure is returned (classified by core/ai) for the job layer to retry;
// for a permanent failure the lexicon model scores the message instead.
func (s *Service) Analyze(ctx context.Context, messageID pulid.ID) error {
	return s.analyze(ctx, messageID, false)
}

// AnalyzeFallback is Analyze when the job gives up retrying: a provider
// failure of any class is answered by the lexicon model, so it returns no
// retryable provider error.
func (s *Service) AnalyzeFallback(ctx context.Context, messageID pulid.ID) error {
	return s.analyze(ctx, messageID, true)
}

func (s *Service) analyze(ctx context.Context, messageID pulid.ID, fallback bool) error {
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
	score, ok, err := s.score(ctx, msg, fallback)
	if err != nil || !ok {
		return err
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Ent.Message.UpdateOneID(msg.ID).
			SetSentimentScore(score).
			SetSentimentLabel(Label(score)).
			Exec(ctx); err != nil {
			return fmt.Errorf("feedback: storing sentiment: %w", err)
		}
		// The conversation's row lock before the roll-up reads the scores:
		// the read then counts what an ingest that scored a message of
		// this conversation (storeRollUp) committed, and no ingest
		// commits one until this transaction does. Taken after the
		// message's, in the order an ingested edit takes them (the
		// message, then its conversation), so the two never deadlock.
		if s.Store.Dialect == dialect.Postgres {
			if _, err := tx.Ent.Conversation.Query().Where(conversation.ID(msg.ConversationID)).ForUpdate().IDs(ctx); err != nil {
				return fmt.Errorf("feedback: locking the conversation: %w", err)
			}
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		// The conversation's mean, and its ConversationUpdated event.
		return s.rollUp(ctx, tx, msg)
	})
}
