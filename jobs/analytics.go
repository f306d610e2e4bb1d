package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/jobs/jobargs"
)

// AnalyticsRollupInterval is how often rollups catch up: the tail since
// the watermark, read from the base tables by queries, stays at most this
// plus the settle time long.
const AnalyticsRollupInterval = 10 * time.Minute

// AnalyticsRollupWorker rolls analytics facts up (core/analytics).
type AnalyticsRollupWorker struct {
	river.WorkerDefaults[jobargs.AnalyticsRollup]
	Analytics *analytics.Service
}

// Timeout allows a first pass over a large workspace's history.
func (w *AnalyticsRollupWorker) Timeout(*river.Job[jobargs.AnalyticsRollup]) time.Duration {
	return 30 * time.Minute
}

// Work runs one pass over every workspace.
func (w *AnalyticsRollupWorker) Work(ctx context.Context, job *river.Job[jobargs.AnalyticsRollup]) error {
	return retry(job.JobRow, w.Analytics.RollAll(ctx))
}

// RegisterAnalytics adds the rollup worker and returns its periodic job.
func RegisterAnalytics(ws *river.Workers, svc *analytics.Service) *river.PeriodicJob {
	river.AddWorker(ws, &AnalyticsRollupWorker{Analytics: svc})
	return river.NewPeriodicJob(river.PeriodicInterval(AnalyticsRollupInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobargs.AnalyticsRollup{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
