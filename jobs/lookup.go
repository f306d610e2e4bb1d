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

// ContactLookupWorker reads a contact's profile through its connector.
type ContactLookupWorker struct {
	river.WorkerDefaults[jobargs.ContactLookup]
	Inbox *inbox.Service
}

// Work reads and keeps the profile.
func (w *ContactLookupWorker) Work(ctx context.Context, job *river.Job[jobargs.ContactLookup]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "contact.lookup"))
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Inbox.LookupContactLastAttempt(ctx, pulid.ID(job.Args.ContactID)))
	}
	return retry(job.JobRow, w.Inbox.LookupContact(ctx, pulid.ID(job.Args.ContactID)))
}

// ConversationLookupWorker reads a comment thread's context through its
// connector.
type ConversationLookupWorker struct {
	river.WorkerDefaults[jobargs.ConversationLookup]
	Inbox *inbox.Service
}

// Work reads and keeps the context.
func (w *ConversationLookupWorker) Work(ctx context.Context, job *river.Job[jobargs.ConversationLookup]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "conversation.lookup"))
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Inbox.LookupThreadLastAttempt(ctx, pulid.ID(job.Args.ConversationID)))
	}
	return retry(job.JobRow, w.Inbox.LookupThread(ctx, pulid.ID(job.Args.ConversationID)))
}

// PruneAuthorizations deletes expired OAuth authorizations (their grants
// with them).
type PruneAuthorizations interface {
	Prune(ctx context.Context) (int, error)
}

// ChannelPruneAuthorizationsWorker runs the pruning pass.
type ChannelPruneAuthorizationsWorker struct {
	river.WorkerDefaults[jobargs.ChannelPruneAuthorizations]
	Authorizations PruneAuthorizations
}

// Work deletes what expired.
func (w *ChannelPruneAuthorizationsWorker) Work(ctx context.Context, job *river.Job[jobargs.ChannelPruneAuthorizations]) error {
	_, err := w.Authorizations.Prune(ctx)
	return retry(job.JobRow, err)
}

// RegisterOnboarding adds the pruning of expired OAuth authorizations to
// ws and returns its periodic job.
func RegisterOnboarding(ws *river.Workers, a PruneAuthorizations) *river.PeriodicJob {
	river.AddWorker(ws, &ChannelPruneAuthorizationsWorker{Authorizations: a})
	// A grant outlives its hour by at most the interval.
	return river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return jobargs.ChannelPruneAuthorizations{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
