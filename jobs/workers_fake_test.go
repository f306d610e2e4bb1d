package jobs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
)

// rateLimitedErr is a provider's "rate limited, retry in a minute".
var rateLimitedErr = &ai.Error{Kind: ai.KindRateLimited, Provider: "test", Op: "embed", StatusCode: 429, RetryAfter: time.Minute}

// indexer is a fake KnowledgeIndexer: it records each call and answers err.
type indexer struct {
	mu    sync.Mutex
	calls []jobargs.KBIndex
	final []bool
	ws    []string
	err   error
}

func (f *indexer) Index(ctx context.Context, job jobargs.KBIndex) error {
	return f.index(ctx, job, false)
}

// IndexLastAttempt is the last run's call.
func (f *indexer) IndexLastAttempt(ctx context.Context, job jobargs.KBIndex) error {
	return f.index(ctx, job, true)
}

func (f *indexer) index(ctx context.Context, job jobargs.KBIndex, final bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.final = append(f.calls, job), append(f.final, final)
	if v := tenant.FromContext(ctx); v != nil {
		f.ws = append(f.ws, v.WorkspaceID)
	}
	return f.err
}

func TestKBIndexWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := &indexer{}
		r := newRunner(t, d, nil, &jobs.KBIndexWorker{Knowledge: f})
		args := jobargs.KBIndex{WorkspaceID: "ws_1", DocumentID: "doc_1", Version: 3}

		requireCompleted(t, r.work(t, args, nil))
		require.Equal(t, []jobargs.KBIndex{args}, f.calls, "the document version is indexed")
		require.Equal(t, []bool{false}, f.final, "not the last run")
		require.Equal(t, []string{"ws_1"}, f.ws, "as the job's workspace")

		f.err = rateLimitedErr
		res := r.work(t, args, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "after the provider's delay")

		f.err = errors.New("embedding endpoint refused the document")
		requireRetried(t, r.work(t, args, nil), "refused the document")

		f.err = nil
		requireCompleted(t, r.last(t, args))
		require.True(t, f.final[len(f.final)-1], "the last run is told so")
	})
}

// analyzer is a fake SentimentAnalyzer.
type analyzer struct {
	mu            sync.Mutex
	messages      []pulid.ID
	conversations []pulid.ID
	final         []bool
	err           error
	// tx is the transaction a conversation's job completes in.
	tx *store.Tx
}

func (f *analyzer) Analyze(ctx context.Context, id pulid.ID) error {
	return f.analyze(ctx, id, false)
}

// AnalyzeFallback is the last run's call.
func (f *analyzer) AnalyzeFallback(ctx context.Context, id pulid.ID) error {
	return f.analyze(ctx, id, true)
}

func (f *analyzer) AnalyzeConversation(ctx context.Context, id pulid.ID, complete func(tx *store.Tx) error) error {
	return f.analyzeConversation(ctx, id, false, complete)
}

// AnalyzeConversationFallback is the last run's call.
func (f *analyzer) AnalyzeConversationFallback(ctx context.Context, id pulid.ID, complete func(tx *store.Tx) error) error {
	return f.analyzeConversation(ctx, id, true, complete)
}

func (f *analyzer) analyze(_ context.Context, id pulid.ID, final bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.messages, f.final = append(f.messages, id), append(f.final, final)
	return f.err
}

func (f *analyzer) analyzeConversation(_ context.Context, id pulid.ID, final bool, complete func(tx *store.Tx) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conversations, f.final = append(f.conversations, id), append(f.final, final)
	if f.err != nil {
		return f.err
	}
	return complete(f.tx)
}

func TestSentimentWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		f := &analyzer{}
		r := newRunner(t, d, nil, &jobs.SentimentWorker{Feedback: f, Store: s})

		msg := jobargs.SentimentAnalyze{WorkspaceID: "ws_1", MessageID: "msg_1"}
		requireCompleted(t, r.work(t, msg, nil))
		require.Equal(t, []pulid.ID{"msg_1"}, f.messages, "the message is scored")
		require.Empty(t, f.conversations)

		f.err = &ai.Error{Kind: ai.KindRateLimited, Provider: "test", Op: "sentiment", RetryAfter: time.Minute}
		requireSnoozed(t, r.work(t, msg, nil))
		f.err = &ai.Error{Kind: ai.KindPermanent, Provider: "test", Op: "sentiment"}
		requireRetried(t, r.work(t, msg, nil), "permanent")
		f.err = nil
		requireCompleted(t, r.last(t, msg))
		require.True(t, f.final[len(f.final)-1], "the last run is told so")

		// A conversation's job completes in the transaction that stores
		// its scores: here rivertest's own.
		f.tx = &store.Tx{SQL: r.tx}
		conv := jobargs.SentimentAnalyze{WorkspaceID: "ws_1", ConversationID: "conv_1"}
		requireCompleted(t, r.work(t, conv, nil))
		require.Equal(t, []pulid.ID{"conv_1"}, f.conversations, "the conversation is scored")
		f.err = rateLimitedErr
		requireSnoozed(t, r.work(t, conv, nil))
	})
}

// pruner is a fake PruneAuthorizations.
type pruner struct {
	calls int
	err   error
}

func (f *pruner) Prune(context.Context) (int, error) {
	f.calls++
	return 2, f.err
}

func TestChannelPruneAuthorizationsWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := &pruner{}
		r := newRunner(t, d, nil, &jobs.ChannelPruneAuthorizationsWorker{Authorizations: f})
		requireCompleted(t, r.work(t, jobargs.ChannelPruneAuthorizations{}, nil))
		require.Equal(t, 1, f.calls, "one pruning pass")
		f.err = errors.New("database is locked")
		requireRetried(t, r.work(t, jobargs.ChannelPruneAuthorizations{}, nil), "database is locked")
		require.Equal(t, 2, f.calls)
	})
}
