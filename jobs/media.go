package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// MediaFetchWorker downloads a customer's attachment into the media store.
type MediaFetchWorker struct {
	river.WorkerDefaults[jobargs.MediaFetch]
	Inbox *inbox.Service
}

// Timeout allows a large file (NEKSIO_MEDIA_FETCH_MAX_BYTES) to stream
// through the connector.
func (w *MediaFetchWorker) Timeout(*river.Job[jobargs.MediaFetch]) time.Duration {
	return 5 * time.Minute
}

// NextRetry backs off from 2 seconds, as deliveries do: a customer waits to
// see the photo.
func (w *MediaFetchWorker) NextRetry(job *river.Job[jobargs.MediaFetch]) time.Time {
	return time.Now().Add(backoff(runs(job.JobRow)))
}

// Work fetches the attachment; on the last run a failure that could be
// retried marks it failed instead.
func (w *MediaFetchWorker) Work(ctx context.Context, job *river.Job[jobargs.MediaFetch]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "media.fetch"))
	id := pulid.ID(job.Args.MessageID)
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Inbox.FetchAttachmentLastAttempt(ctx, id, job.Args.Index))
	}
	return retry(job.JobRow, w.Inbox.FetchAttachment(ctx, id, job.Args.Index))
}
