package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/jobs/jobargs"
)

// PrivacyTimeout bounds an export, a purge or a sweep: they walk whole
// workspaces.
const PrivacyTimeout = 30 * time.Minute

// ExportBuildWorker writes an export archive.
type ExportBuildWorker struct {
	river.WorkerDefaults[jobargs.ExportBuild]
	Privacy *privacy.Service
}

// Timeout implements river.Worker.
func (w *ExportBuildWorker) Timeout(*river.Job[jobargs.ExportBuild]) time.Duration {
	return PrivacyTimeout
}

// Work builds the archive; on the last run a failure marks the export
// FAILED instead.
func (w *ExportBuildWorker) Work(ctx context.Context, job *river.Job[jobargs.ExportBuild]) error {
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Privacy.BuildExportLastAttempt(ctx, job.Args.WorkspaceID, job.Args.ExportID))
	}
	return retry(job.JobRow, w.Privacy.BuildExport(ctx, job.Args.WorkspaceID, job.Args.ExportID))
}

// WorkspacePurgeWorker purges a deleted workspace once its grace ended.
type WorkspacePurgeWorker struct {
	river.WorkerDefaults[jobargs.WorkspacePurge]
	Privacy *privacy.Service
}

// Timeout implements river.Worker.
func (w *WorkspacePurgeWorker) Timeout(*river.Job[jobargs.WorkspacePurge]) time.Duration {
	return PrivacyTimeout
}

// Work purges the workspace (a restored one is left alone).
func (w *WorkspacePurgeWorker) Work(ctx context.Context, job *river.Job[jobargs.WorkspacePurge]) error {
	_, err := w.Privacy.PurgeWorkspace(ctx, job.Args.WorkspaceID)
	return retry(job.JobRow, err)
}

// PrivacySweepWorker runs retention, export expiry and due purges.
type PrivacySweepWorker struct {
	river.WorkerDefaults[jobargs.PrivacySweep]
	Privacy *privacy.Service
	Policy  privacy.RetentionPolicy
}

// Timeout implements river.Worker.
func (w *PrivacySweepWorker) Timeout(*river.Job[jobargs.PrivacySweep]) time.Duration {
	return PrivacyTimeout
}

// Work runs one sweep.
func (w *PrivacySweepWorker) Work(ctx context.Context, job *river.Job[jobargs.PrivacySweep]) error {
	return retry(job.JobRow, w.Privacy.Sweep(ctx, w.Policy))
}

// RegisterPrivacy adds the privacy workers to ws and returns the periodic
// sweep (hourly).
func RegisterPrivacy(ws *river.Workers, p *privacy.Service, policy privacy.RetentionPolicy) *river.PeriodicJob {
	river.AddWorker(ws, &ExportBuildWorker{Privacy: p})
	river.AddWorker(ws, &WorkspacePurgeWorker{Privacy: p})
	river.AddWorker(ws, &PrivacySweepWorker{Privacy: p, Policy: policy})
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return jobargs.PrivacySweep{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
