package sentiment_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/sentiment"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/plugins/sdk"
)

// remote is the built-in model behind a provider that does not say it
// is local (as an external model would not): its messages take the job
// path.
type remote struct{ ai.Provider }

// ingestEnv is an inbox wired to sentiment as cmd/neksio wires it.
type ingestEnv struct {
	s   *store.Store
	sys context.Context
	in  *inbox.Service
	svc *sentiment.Service
	ch  *ent.Channel
}

func newIngestEnv(t *testing.T, d storetest.Dialect, p ai.Provider) *ingestEnv {
	t.Helper()
	s := storetest.Open(t, d)
	sys, ch := storetest.WhatsAppChannel(t, s)
	svc := &sentiment.Service{Store: s, Provider: p}
	in := &inbox.Service{Store: s}
	svc.Attach(in)
	in.OnEdited = append(in.OnEdited, svc.Hook())
	return &ingestEnv{s: s, sys: sys, in: in, svc: svc, ch: ch}
}

func (e *ingestEnv) ingest(t *testing.T, m sdk.Message) *ent.Message {
	t.Helper()
	m.ThreadID, m.Direction, m.Contact = "ada", sdk.Inbound, sdk.Contact{ExternalID: "ada", Name: "Ada"}
	require.NoError(t, e.s.InTx(e.sys, func(tx *store.Tx) error {
		_, err := e.in.Ingest(e.sys, tx, e.ch, []*sdk.Event{{Kind: sdk.EventMessage, Message: &m}})
		return err
	}))
	got, err := e.s.Ent.Message.Query().Where(message.ExternalID(m.ExternalID)).Only(e.sys)
	require.NoError(t, err)
	return got
}

func (e *ingestEnv) conversation(t *testing.T) *ent.Conversation {
	t.Helper()
	c, err := e.s.Ent.Conversation.Query().Where(conversation.ThreadID("ada")).Only(e.sys)
	require.NoError(t, err)
	return c
}

// With the built-in (local) model, a new message is stored scored, and
// its conversation carries the mean of its latest DefaultWindow scores
// (by time, whatever the order they arrive in) at once, in the ingest's
// transaction: no job is queued. A rating alone is scored by its stars.
func TestScoredOnIngest(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		for name, p := range map[string]ai.Provider{
			"builtin": builtin.New(),
			// cmd/neksio's provider when no external one is configured.
			"chooser": ai.NewChooser(builtin.New(), nil, nil),
		} {
			t.Run(name, func(t *testing.T) {
				e := newIngestEnv(t, d, p)
				start := time.Now().Add(-time.Hour).Truncate(time.Second)
				type scored struct {
					at    time.Time
					score float64
				}
				var all []scored
				for i, m := range []sdk.Message{
					{Text: "Love it, the croissants are amazing! 😍"},
					{Text: "Worst bakery ever 😡"},
					{Text: "ok"},
					{Rating: 1},
					{Text: "Thank you so much, great service"},
					{Text: "Still waiting, totally useless."},
					{Text: "I hate this", Timestamp: start.Add(-time.Minute)}, // late, and older than the rest
					{Text: "Perfect, thanks!"},
				} {
					m.ExternalID = "m" + string(rune('a'+i))
					if m.Timestamp.IsZero() {
						m.Timestamp = start.Add(time.Duration(i) * time.Second)
					}
					got := e.ingest(t, m)
					want := sentiment.RatingScore(m.Rating)
					if m.Text != "" {
						want = builtin.LexiconSentiment(m.Text).Score
					}
					require.NotNil(t, got.SentimentScore, m.Text)
					require.InDelta(t, want, *got.SentimentScore, 1e-9, m.Text)
					require.Equal(t, sentiment.Label(want), *got.SentimentLabel, m.Text)

					all = append(all, scored{m.Timestamp, want})
					latest := slices.Clone(all)
					slices.SortFunc(latest, func(a, b scored) int { return b.at.Compare(a.at) })
					latest = latest[:min(len(latest), sentiment.DefaultWindow)]
					var sum float64
					for _, l := range latest {
						sum += l.score
					}
					mean := sum / float64(len(latest))
					c := e.conversation(t)
					require.NotNil(t, c.SentimentScore, "after %d messages", i+1)
					require.InDelta(t, mean, *c.SentimentScore, 1e-9, "after %d messages", i+1)
					require.Equal(t, string(sentiment.Label(mean)), string(*c.SentimentLabel), "after %d messages", i+1)
				}
				require.Equal(t, 0, storetest.CountJobs(t, e.s.DB, "sentiment.analyze"), "no job: scored as ingested")
			})
		}
	})
}

// With a model that is not local (an external one), a new message is
// stored unscored and queues its conversation's job, as before; so does
// the built-in model behind a Chooser that may choose an external one.
func TestNotLocalQueuesTheJob(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		for name, p := range map[string]ai.Provider{
			"remote":  remote{builtin.New()},
			"chooser": ai.NewChooser(builtin.New(), remote{builtin.New()}, func(context.Context, string) (bool, error) { return false, nil }),
		} {
			t.Run(name, func(t *testing.T) {
				e := newIngestEnv(t, d, p)
				got := e.ingest(t, sdk.Message{ExternalID: "m1", Text: "Worst bakery ever 😡", Timestamp: time.Now()})
				require.Nil(t, got.SentimentScore)
				require.Nil(t, e.conversation(t).SentimentScore)
				require.Equal(t, 1, storetest.CountJobs(t, e.s.DB, "sentiment.analyze"))

				require.NoError(t, e.svc.AnalyzeConversation(e.sys, got.ConversationID, func(*store.Tx) error { return nil }))
				got, err := e.s.Ent.Message.Get(e.sys, got.ID)
				require.NoError(t, err)
				require.Equal(t, message.SentimentLabelNegative, *got.SentimentLabel)
				require.Equal(t, conversation.SentimentLabelNegative, *e.conversation(t).SentimentLabel)
			})
		}
	})
}

// An edit keeps its job of its own, with the built-in model too: the job
// scores the new text and rolls the conversation up again.
func TestEditQueuesItsJob(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newIngestEnv(t, d, builtin.New())
		at := time.Now()
		got := e.ingest(t, sdk.Message{ExternalID: "m1", Text: "Worst bakery ever 😡", Timestamp: at})
		require.Equal(t, message.SentimentLabelNegative, *got.SentimentLabel)
		require.Equal(t, conversation.SentimentLabelNegative, *e.conversation(t).SentimentLabel)
		require.Equal(t, 0, storetest.CountJobs(t, e.s.DB, "sentiment.analyze"))

		e.ingest(t, sdk.Message{ExternalID: "m1", Text: "Love it, the croissants are amazing! 😍", Timestamp: at.Add(time.Minute),
			Action: sdk.ActionEdited})
		require.Equal(t, 1, storetest.CountJobs(t, e.s.DB, "sentiment.analyze"), "the edit's job")
		require.NoError(t, e.svc.Analyze(e.sys, got.ID))
		got, err := e.s.Ent.Message.Get(e.sys, got.ID)
		require.NoError(t, err)
		require.Equal(t, message.SentimentLabelPositive, *got.SentimentLabel)
		c := e.conversation(t)
		require.Equal(t, conversation.SentimentLabelPositive, *c.SentimentLabel)
		require.InDelta(t, *got.SentimentScore, *c.SentimentScore, 1e-9)
	})
}

// Messages of one conversation ingested at once, by concurrent
// transactions, leave it with the mean of its latest DefaultWindow scores:
// the roll-up in each ingest's conversation update runs under the
// conversation's row lock, taken by the ingest's lookup, so the last to
// commit saw every message committed before it. A hook between the
// message's insert and the conversation's update holds each ingest until
// all have stored their message (or a while has passed: with the lock,
// they come one at a time), so without the lock every update would read
// the scores before the others commit and the last would miss theirs.
func TestConcurrentIngestRollsUpEveryMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		const senders = 6
		e := newIngestEnv(t, d, builtin.New())
		var arrived atomic.Int32
		all := make(chan struct{})
		e.in.OnInboundUpdate = append(e.in.OnInboundUpdate, func(context.Context, *ent.Channel, *ent.Conversation, *ent.Message, *ent.ConversationUpdate) bool {
			if arrived.Add(1) == senders {
				close(all)
			}
			select {
			case <-all:
			case <-time.After(150 * time.Millisecond):
			}
			return false
		})
		start := time.Now().Add(-time.Hour).Truncate(time.Second)
		e.ingest(t, sdk.Message{ExternalID: "first", Text: "ok", Timestamp: start})
		arrived.Store(0)
		texts := []string{"Love it, amazing! 😍", "Worst bakery ever 😡", "Thank you so much", "I hate this", "Perfect, thanks!", "Still waiting, totally useless."}
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for g := range senders {
			wg.Go(func() {
				m := sdk.Message{ExternalID: fmt.Sprintf("m%d", g), Text: texts[g], Timestamp: start.Add(time.Duration(g+1) * time.Second),
					ThreadID: "ada", Direction: sdk.Inbound, Contact: sdk.Contact{ExternalID: "ada", Name: "Ada"}}
				errs <- e.s.InTx(e.sys, func(tx *store.Tx) error {
					_, err := e.in.Ingest(e.sys, tx, e.ch, []*sdk.Event{{Kind: sdk.EventMessage, Message: &m}})
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		latest, err := e.s.Ent.Message.Query().Where(message.SentimentScoreNotNil()).
			Order(ent.Desc(message.FieldSentAt), ent.Desc(message.FieldID)).Limit(sentiment.DefaultWindow).All(e.sys)
		require.NoError(t, err)
		require.Len(t, latest, sentiment.DefaultWindow)
		var sum float64
		for _, m := range latest {
			sum += *m.SentimentScore
		}
		c := e.conversation(t)
		require.NotNil(t, c.SentimentScore)
		require.InDelta(t, sum/float64(len(latest)), *c.SentimentScore, 1e-9)
		require.Equal(t, string(sentiment.Label(sum/float64(len(latest)))), string(*c.SentimentLabel))
	})
}
