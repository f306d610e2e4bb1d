package jobs

import (
	"context"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/neksio/neksio/core/store"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// SentimentAnalyzer is core/sentiment's Service, as the worker sees it.
// The ...Fallback methods are the give-up path of a job's last attempt
// (the lexicon model answers where the provider does not).
type SentimentAnalyzer interface {
	Analyze(ctx context.Context, messageID pulid.ID) error
	AnalyzeFallback(ctx context.Context, messageID pulid.ID) error
	AnalyzeConversation(ctx context.Context, conversationID pulid.ID, complete func(tx *store.Tx) error) error
	AnalyzeConversationFallback(ctx context.Context, conversationID pulid.ID, complete func(tx *store.Tx) error) error
}

// SentimentWorker scores inbound messages.
type SentimentWorker struct {
	river.WorkerDefaults[jobargs.SentimentAnalyze]
	Feedback SentimentAnalyzer
	// Store is the database a conversation's job completes in.
	Store *store.Store
}

// Timeout fits one call to a slow chat model, or a few for a
// conversation.
func (w *SentimentWorker) Timeout(job *river.Job[jobargs.SentimentAnalyze]) time.Duration {
	if job.Args.MessageID == "" {
		return 5 * time.Minute
	}
	return 2 * time.Minute
}

// Work scores one message, or a conversation's unscored messages (then
// the job completes in the transaction that stores the scores; see
// jobargs.SentimentConversationOpts). The worker decides retries: a
// retryable provider error is retried (after its Retry-After, bounded by
// the backoff), and the last attempt takes the give-up path instead.
func (w *SentimentWorker) Work(ctx context.Context, job *river.Job[jobargs.SentimentAnalyze]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "sentiment.analyze"))
	last := lastRun(job.JobRow)
	if job.Args.MessageID == "" && job.Args.ConversationID != "" {
		complete := func(tx *store.Tx) error { return completeInTx(ctx, w.Store, tx, job) }
		id := pulid.ID(job.Args.ConversationID)
		if last {
			return retry(job.JobRow, w.Feedback.AnalyzeConversationFallback(ctx, id, complete))
		}
		return retry(job.JobRow, w.Feedback.AnalyzeConversation(ctx, id, complete))
	}
	id := pulid.ID(job.Args.MessageID)
	if last {
		return retry(job.JobRow, w.Feedback.AnalyzeFallback(ctx, id))
	}
	return retry(job.JobRow, w.Feedback.Analyze(ctx, id))
}

// completeInTx marks job completed inside tx, with the driver of the
// store's database.
func completeInTx[T river.JobArgs](ctx context.Context, s *store.Store, tx *store.Tx, job *river.Job[T]) error {
	var err error
	if s.Dialect == dialect.Postgres {
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx.SQL, job)
	} else {
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx.SQL, job)
	}
	return err
}
