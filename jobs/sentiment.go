package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// SentimentAnalyzer is core/feedback's Service, as the worker sees it.
type SentimentAnalyzer interface {
	Analyze(ctx context.Context, messageID pulid.ID, final bool) error
}

// SentimentWorker scores inbound messages.
type SentimentWorker struct {
	river.WorkerDefaults[jobargs.SentimentAnalyze]
	Feedback SentimentAnalyzer
}

// Timeout fits one call to a slow chat model.
func (w *SentimentWorker) Timeout(*river.Job[jobargs.SentimentAnalyze]) time.Duration {
	return 2 * time.Minute
}

// Work scores one message.
func (w *SentimentWorker) Work(ctx context.Context, job *river.Job[jobargs.SentimentAnalyze]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "sentiment.analyze"))
	return retryAI(job.JobRow, w.Feedback.Analyze(ctx, pulid.ID(job.Args.MessageID), lastRun(job.JobRow)))
}
