package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/jobs/jobargs"
)

// KnowledgeIndexer is core/knowledge's Service, as the indexing worker
// sees it.
type KnowledgeIndexer interface {
	Index(ctx context.Context, job jobargs.KBIndex) error
	// IndexLastAttempt is the give-up path of the job's last attempt.
	IndexLastAttempt(ctx context.Context, job jobargs.KBIndex) error
}

// KBIndexWorker (re)indexes knowledge documents.
type KBIndexWorker struct {
	river.WorkerDefaults[jobargs.KBIndex]
	Knowledge KnowledgeIndexer
}

// Timeout covers embedding a large document through a slow endpoint.
func (w *KBIndexWorker) Timeout(*river.Job[jobargs.KBIndex]) time.Duration { return 10 * time.Minute }

// Work indexes one document version.
func (w *KBIndexWorker) Work(ctx context.Context, job *river.Job[jobargs.KBIndex]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "kb.index"))
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Knowledge.IndexLastAttempt(ctx, job.Args))
	}
	return retry(job.JobRow, w.Knowledge.Index(ctx, job.Args))
}
