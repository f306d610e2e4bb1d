package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// RefreshWindow is how long before expiry a token is refreshed.
const RefreshWindow = time.Hour

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
func (w *ChannelRefreshWorker) Work(ctx context.Context, _ *river.Job[jobargs.ChannelRefreshTokens]) error {
	_, err := w.Channels.RefreshDue(ctx, RefreshWindow)
	return err
}

// ChannelSyncWorker runs a sync pass over the channels that offer Sync.
type ChannelSyncWorker struct {
	river.WorkerDefaults[jobargs.ChannelSync]
	Inbox *inbox.Service
}

// Timeout allows for many channels and slow platforms.
func (w *ChannelSyncWorker) Timeout(*river.Job[jobargs.ChannelSync]) time.Duration {
	return 10 * time.Minute
}

// Work runs one pass, over every channel or the one the job names.
func (w *ChannelSyncWorker) Work(ctx context.Context, job *river.Job[jobargs.ChannelSync]) error {
	if id := job.Args.ChannelID; id != "" {
		return w.Inbox.SyncOne(ctx, pulid.ID(id))
	}
	return w.Inbox.SyncAll(ctx)
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
