package sentiment_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/sentiment"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
)

func TestAnalyze(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		sys, ch := storetest.WhatsAppChannel(t, s)
		svc := &sentiment.Service{Store: s, Provider: builtin.New(), Window: 2}
		conv, err := s.Ent.Conversation.Create().SetWorkspaceID(ch.WorkspaceID).SetChannelID(ch.ID).
			SetKind(conversation.KindDirectMessage).SetThreadID("t").Save(sys)
		require.NoError(t, err)
		start := time.Now()
		n := 0
		say := func(text string, dir message.Direction) *ent.Message {
			n++
			kind := message.AuthorKindContact
			if dir == message.DirectionOutbound {
				kind = message.AuthorKindAgent
			}
			m, err := s.Ent.Message.Create().SetWorkspaceID(ch.WorkspaceID).SetConversationID(conv.ID).SetChannelID(ch.ID).
				SetDirection(dir).SetAuthorKind(kind).SetText(text).SetSentAt(start.Add(time.Duration(n) * time.Second)).Save(sys)
			require.NoError(t, err)
			// The hook queues the job only for customers' messages.
			require.NoError(t, s.InTx(sys, func(tx *store.Tx) error { return svc.Hook()(sys, tx, ch, conv, m) }))
			require.NoError(t, svc.Analyze(sys, m.ID))
			return m
		}
		happy := say("Love it, the croissants are amazing! 😍", message.DirectionInbound)
		got, err := s.Ent.Message.Get(sys, happy.ID)
		require.NoError(t, err)
		require.Equal(t, message.SentimentLabelPositive, *got.SentimentLabel)
		require.Positive(t, *got.SentimentScore)
		c, err := s.Ent.Conversation.Get(sys, conv.ID)
		require.NoError(t, err)
		require.Equal(t, conversation.SentimentLabelPositive, *c.SentimentLabel)

		reply := say("terrible awful news, sorry", message.DirectionOutbound)
		got, err = s.Ent.Message.Get(sys, reply.ID)
		require.NoError(t, err)
		require.Nil(t, got.SentimentScore, "outbound messages are not scored")

		say("My order never arrived. Worst bakery ever, I want a refund 😡", message.DirectionInbound)
		say("Still waiting. This is a joke, totally useless.", message.DirectionInbound)
		c, err = s.Ent.Conversation.Get(sys, conv.ID)
		require.NoError(t, err)
		require.Equal(t, conversation.SentimentLabelNegative, *c.SentimentLabel, "the roll-up follows the latest messages")
		require.Equal(t, 3, storetest.CountJobs(t, s.DB, "sentiment.analyze"))

		neg, err := s.Ent.Conversation.Query().Where(conversation.SentimentLabelEQ(conversation.SentimentLabelNegative)).Count(sys)
		require.NoError(t, err)
		require.Equal(t, 1, neg)
	})
}

// One conversation's sentiment job scores every unscored inbound message of
// its conversation, rolls them up, and completes its job in the same
// transaction; a conversation's messages queue one job while one waits.
func TestAnalyzeConversation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		sys, ch := storetest.WhatsAppChannel(t, s)
		svc := &sentiment.Service{Store: s, Provider: builtin.New()}
		conv, err := s.Ent.Conversation.Create().SetWorkspaceID(ch.WorkspaceID).SetChannelID(ch.ID).
			SetKind(conversation.KindDirectMessage).SetThreadID("t").Save(sys)
		require.NoError(t, err)
		start := time.Now()
		var ids []string
		for i, text := range []string{"Worst bakery ever 😡", "Still waiting, totally useless.", "I hate this"} {
			m, err := s.Ent.Message.Create().SetWorkspaceID(ch.WorkspaceID).SetConversationID(conv.ID).SetChannelID(ch.ID).
				SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).SetText(text).
				SetSentAt(start.Add(time.Duration(i) * time.Second)).Save(sys)
			require.NoError(t, err)
			ids = append(ids, string(m.ID))
			require.NoError(t, s.InTx(sys, func(tx *store.Tx) error { return svc.ConversationHook()(sys, tx, ch, conv, m) }))
		}
		require.Equal(t, 1, storetest.CountJobs(t, s.DB, "sentiment.analyze"), "one job waits per conversation")

		completed := 0
		require.NoError(t, svc.AnalyzeConversation(sys, conv.ID, func(*store.Tx) error { completed++; return nil }))
		require.Equal(t, 1, completed)
		scored, err := s.Ent.Message.Query().Where(message.SentimentLabelEQ(message.SentimentLabelNegative)).Count(sys)
		require.NoError(t, err)
		require.Equal(t, 3, scored, "%v", ids)
		c, err := s.Ent.Conversation.Get(sys, conv.ID)
		require.NoError(t, err)
		require.Equal(t, conversation.SentimentLabelNegative, *c.SentimentLabel)
		require.Equal(t, 1, storetest.CountJobs(t, s.DB, "sentiment.analyze"), "nothing left: no other job")
	})
}

// arrivingProvider is the built-in model, and runs arrive once, on the
// first text it scores: a message that comes in while a conversation's
// job is scoring (after its read, before its transaction).
type arrivingProvider struct {
	ai.Provider
	arrive func()
}

func (p *arrivingProvider) Sentiment(ctx context.Context, text string) (ai.Sentiment, error) {
	if p.arrive != nil {
		p.arrive()
		p.arrive = nil
	}
	return p.Provider.Sentiment(ctx, text)
}

// A message that arrives while its conversation's job scores is left for
// a follow-up job of the conversation, queued in the job's transaction,
// and the roll-up counts what the job scored.
func TestAnalyzeConversationFollowUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		sys, ch := storetest.WhatsAppChannel(t, s)
		conv, err := s.Ent.Conversation.Create().SetWorkspaceID(ch.WorkspaceID).SetChannelID(ch.ID).
			SetKind(conversation.KindDirectMessage).SetThreadID("t").Save(sys)
		require.NoError(t, err)
		start := time.Now()
		inbound := func(i int, text string) *ent.Message {
			m, err := s.Ent.Message.Create().SetWorkspaceID(ch.WorkspaceID).SetConversationID(conv.ID).SetChannelID(ch.ID).
				SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).SetText(text).
				SetSentAt(start.Add(time.Duration(i) * time.Second)).Save(sys)
			require.NoError(t, err)
			return m
		}
		first := inbound(0, "Lovely cake, thank you!")
		var late *ent.Message
		svc := &sentiment.Service{Store: s, Provider: &arrivingProvider{Provider: builtin.New(), arrive: func() { late = inbound(1, "Worst bakery ever") }}}
		// The job completes in its transaction (here: its row goes), so
		// the follow-up is not refused as a duplicate of it.
		complete := func(tx *store.Tx) error {
			_, err := tx.SQL.ExecContext(sys, "DELETE FROM river_job")
			return err
		}
		require.NoError(t, svc.AnalyzeConversation(sys, conv.ID, complete))
		require.Equal(t, 1, storetest.CountJobs(t, s.DB, "sentiment.analyze"), "a follow-up job for the late message")
		got, err := s.Ent.Message.Get(sys, first.ID)
		require.NoError(t, err)
		require.NotNil(t, got.SentimentScore)
		require.Equal(t, message.SentimentLabelPositive, *got.SentimentLabel)
		firstScore := *got.SentimentScore
		got, err = s.Ent.Message.Get(sys, late.ID)
		require.NoError(t, err)
		require.Nil(t, got.SentimentScore, "the late message waits for its own job")
		c, err := s.Ent.Conversation.Get(sys, conv.ID)
		require.NoError(t, err)
		require.Equal(t, conversation.SentimentLabelPositive, *c.SentimentLabel)
		require.InDelta(t, firstScore, *c.SentimentScore, 1e-9, "the roll-up of what was scored")

		// Nothing left: the follow-up scores the late message, queues nothing.
		svc.Provider = builtin.New()
		require.NoError(t, svc.AnalyzeConversation(sys, conv.ID, complete))
		require.Equal(t, 0, storetest.CountJobs(t, s.DB, "sentiment.analyze"))
		got, err = s.Ent.Message.Get(sys, late.ID)
		require.NoError(t, err)
		require.Equal(t, message.SentimentLabelNegative, *got.SentimentLabel)
	})
}
