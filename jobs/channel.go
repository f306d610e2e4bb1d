package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/jobs/jobargs"
)

// RefreshWindow is how long before expiry a token is refreshed: three
// passes of the 5-minute job, so one missed pass does not let a token
// lapse. Shorter than the shortest lifetime a platform gives (Google's
// access tokens last an hour): a longer window would refresh such tokens
// at every pass.
const RefreshWindow = 15 * time.Minute

// ChannelRefreshWorker refreshes tokens that expire within RefreshWindow.
type ChannelRefreshWorker struct {
	river.WorkerDefaults[jobargs.ChannelRefreshTokens]
	Channels *channel.Service
}

// Timeout allows for many channels, one platform call each.
func (w *ChannelRefreshWorker) Timeout(*river.Job[jobargs.ChannelRefreshTokens]) time.Duration {
	return 5 * time.Minute
}

// Work runs one refresh pass.
func (w *ChannelRefreshWorker) Work(ctx context.Context, job *river.Job[jobargs.ChannelRefreshTokens]) error {
	_, err := w.Channels.RefreshDue(ctx, RefreshWindow)
	return retry(job.JobRow, err)
}

// ChannelSyncWorker queues a sync pass for each channel that offers Sync
// (channel.sync_channel jobs: one pass per channel at a time).
type ChannelSyncWorker struct {
	river.WorkerDefaults[jobargs.ChannelSync]
	Inbox *inbox.Service
}

// Timeout allows asking every connector whether it syncs.
func (w *ChannelSyncWorker) Timeout(*river.Job[jobargs.ChannelSync]) time.Duration {
	return 2 * time.Minute
}

// Work queues the passes.
func (w *ChannelSyncWorker) Work(ctx context.Context, job *river.Job[jobargs.ChannelSync]) error {
	return retry(job.JobRow, w.Inbox.QueueSyncs(ctx))
}

// ChannelSyncChannelWorker runs a sync pass for one channel: its backfill
// after it is connected, or a notification that named nothing.
type ChannelSyncChannelWorker struct {
	river.WorkerDefaults[jobargs.ChannelSyncChannel]
	Inbox *inbox.Service
}

// Timeout allows a slow platform a full pass.
func (w *ChannelSyncChannelWorker) Timeout(*river.Job[jobargs.ChannelSyncChannel]) time.Duration {
	return 10 * time.Minute
}

// Work runs the pass. A platform that says "retry later" is retried after
// the time it asks for, never sooner than the backoff.
func (w *ChannelSyncChannelWorker) Work(ctx context.Context, job *river.Job[jobargs.ChannelSyncChannel]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "channel.sync_channel"))
	return retry(job.JobRow, w.Inbox.SyncOne(ctx, job.Args.ChannelID))
}

// PeriodicJobs are the jobs every worker process schedules.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.ChannelRefreshTokens{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return jobargs.ChannelSync{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
}
