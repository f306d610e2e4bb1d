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
type SentimentAnalyzer interface {
	Analyze(ctx context.Context, messageID pulid.ID, final bool) error
	AnalyzeConversation(ctx context.Context, conversationID pulid.ID, final bool, complete func(tx *store.Tx) error) error
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
// jobargs.SentimentConversationOpts).
func (w *SentimentWorker) Work(ctx context.Context, job *river.Job[jobargs.SentimentAnalyze]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "sentiment.analyze"))
	if job.Args.MessageID == "" && job.Args.ConversationID != "" {
		complete := func(tx *store.Tx) error { return completeInTx(ctx, w.Store, tx, job) }
		return retryAI(job.JobRow, w.Feedback.AnalyzeConversation(ctx, pulid.ID(job.Args.ConversationID), lastRun(job.JobRow), complete))
	}
	return retryAI(job.JobRow, w.Feedback.Analyze(ctx, pulid.ID(job.Args.MessageID), lastRun(job.JobRow)))
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
