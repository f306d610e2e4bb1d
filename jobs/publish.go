package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// PublishTimeout bounds one publishing run (a connector call and recording
// its outcome), below RescueStuckJobsAfter like deliveries: a run whose
// process died is taken up again only once it cannot still be going.
const PublishTimeout = 25 * time.Second

// PostPublishWorker publishes one post target.
type PostPublishWorker struct {
	river.WorkerDefaults[jobargs.PostPublish]
	Publish *publish.Service
}

// Timeout implements river.Worker.
func (w *PostPublishWorker) Timeout(*river.Job[jobargs.PostPublish]) time.Duration {
	return PublishTimeout
}

// NextRetry backs off like deliveries (2, 4, 8 … s).
func (w *PostPublishWorker) NextRetry(job *river.Job[jobargs.PostPublish]) time.Time {
	return time.Now().Add(backoff(runs(job.JobRow)))
}

// Work runs the target's state machine; on the last run a failure is
// recorded on the target instead of retried.
func (w *PostPublishWorker) Work(ctx context.Context, job *river.Job[jobargs.PostPublish]) error {
	ctx = publish.SystemContext(ctx, job.Args.WorkspaceID)
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Publish.PublishLastAttempt(ctx, pulid.ID(job.Args.TargetID), job.Args.Generation))
	}
	return retry(job.JobRow, w.Publish.Publish(ctx, pulid.ID(job.Args.TargetID), job.Args.Generation))
}

// PostStatusWorker polls an asynchronous publication.
type PostStatusWorker struct {
	river.WorkerDefaults[jobargs.PostStatus]
	Publish *publish.Service
}

// Timeout implements river.Worker.
func (w *PostStatusWorker) Timeout(*river.Job[jobargs.PostStatus]) time.Duration {
	return PublishTimeout
}

// NextRetry backs off (2, 4, 8 … s, at most about an hour).
func (w *PostStatusWorker) NextRetry(job *river.Job[jobargs.PostStatus]) time.Time {
	return time.Now().Add(backoff(runs(job.JobRow)))
}

// Work checks the publication once.
func (w *PostStatusWorker) Work(ctx context.Context, job *river.Job[jobargs.PostStatus]) error {
	ctx = publish.SystemContext(ctx, job.Args.WorkspaceID)
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Publish.StatusLastAttempt(ctx, pulid.ID(job.Args.TargetID), job.Args.Generation, job.Args.ExternalID))
	}
	return retry(job.JobRow, w.Publish.Status(ctx, pulid.ID(job.Args.TargetID), job.Args.Generation, job.Args.ExternalID))
}

// RegisterPublish adds the publishing workers to ws.
func RegisterPublish(ws *river.Workers, p *publish.Service) {
	river.AddWorker(ws, &PostPublishWorker{Publish: p})
	river.AddWorker(ws, &PostStatusWorker{Publish: p})
}
