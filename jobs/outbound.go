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

// OutboundWorker delivers outbound messages through their connector.
type OutboundWorker struct {
	river.WorkerDefaults[jobargs.OutboundDeliver]
	Inbox *inbox.Service
}

// Timeout covers one connector call (NEKSIO_PLUGIN_TIMEOUT, 30s by
// default, is cut short by it) and recording its result. It is kept below
// RescueStuckJobsAfter: a delivery whose process died is taken up again
// once that has passed, and never while its first run could still be
// going.
func (w *OutboundWorker) Timeout(*river.Job[jobargs.OutboundDeliver]) time.Duration {
	return OutboundTimeout
}

// NextRetry backs off faster than River's default at first: a rate-limited
// reply should not wait minutes.
func (w *OutboundWorker) NextRetry(job *river.Job[jobargs.OutboundDeliver]) time.Time {
	return time.Now().Add(backoff(runs(job.JobRow)))
}

// Work delivers one message. On the last run a failure that could be
// retried is recorded instead: the reply is FAILED and its conversation
// handed to a person.
func (w *OutboundWorker) Work(ctx context.Context, job *river.Job[jobargs.OutboundDeliver]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "outbound.deliver"))
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Inbox.DeliverLastAttempt(ctx, job.Args.MessageID))
	}
	return retry(job.JobRow, w.Inbox.Deliver(ctx, job.Args.MessageID))
}

// Deps are what the core workers need.
type Deps struct {
	Inbox    *inbox.Service
	Channels *channel.Service
}

// Register adds the core workers to ws.
func Register(ws *river.Workers, d Deps) {
	river.AddWorker(ws, &OutboundWorker{Inbox: d.Inbox})
	river.AddWorker(ws, &ChannelSyncWorker{Inbox: d.Inbox})
	river.AddWorker(ws, &ChannelSyncChannelWorker{Inbox: d.Inbox})
	river.AddWorker(ws, &ContactLookupWorker{Inbox: d.Inbox})
	river.AddWorker(ws, &ConversationLookupWorker{Inbox: d.Inbox})
	river.AddWorker(ws, &MediaFetchWorker{Inbox: d.Inbox})
	if d.Channels != nil {
		river.AddWorker(ws, &ChannelRefreshWorker{Channels: d.Channels})
	}
}

// SentimentWorkers is how many sentiment jobs a worker process runs at
// once. Every inbound message queues its conversation's job, so while
// webhooks come in the queue competes with ingestion for the same CPUs
// and database: with 16 the jobs took 29% of the server's CPU during the
// ingest benchmark's load (21% with 8) and ingestion reached a lower
// share of the baseline's rate, while 8 still work off the largest
// backlog the benchmark leaves (one job per conversation, ~2,000) within
// 10 s of the load stopping (docs/benchmarks.md, ingest).
const SentimentWorkers = 8

// Queues is the queue configuration of a worker process.
func Queues() map[string]river.QueueConfig {
	return map[string]river.QueueConfig{
		river.QueueDefault:    {MaxWorkers: 10},
		jobargs.QueueOutbound: {MaxWorkers: 20},
		jobargs.QueueAI:       {MaxWorkers: 4},
		// Every queue fetches at most once per FetchCooldown (config.go),
		// which caps it at MaxWorkers jobs per cooldown: with River's
		// 100 ms, 80 sentiment jobs/s, less than webhooks bring in.
		jobargs.QueueSentiment: {MaxWorkers: SentimentWorkers},
		jobargs.QueuePublish:   {MaxWorkers: 20},
	}
}
