package jobs_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/vector"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// This file is the jobs package's test kit: every worker is driven through
// River's rivertest, which inserts the job, works it as a River client
// would and returns what River made of the result.

// runner works jobs of one kind with one worker.
type runner[T river.JobArgs] struct {
	w  *rivertest.Worker[T, *sql.Tx]
	tx *sql.Tx
}

// newRunner prepares w for rivertest. With a bundle the jobs live where
// riverDB puts them; without one (workers that take only interfaces) in a
// fresh database of dialect d.
func newRunner[T river.JobArgs](t *testing.T, d storetest.Dialect, b *bundle, w river.Worker[T]) *runner[T] {
	t.Helper()
	var db *sql.DB
	var r *runner[T]
	if b != nil {
		drv, sdb := riverDB(t, b, d)
		db, r = sdb, &runner[T]{w: rivertest.NewWorker(t, drv, &river.Config{}, w)}
	} else {
		s := storetest.Open(t, d)
		db, r = s.DB, &runner[T]{w: rivertest.NewWorker(t, s.Driver, &river.Config{}, w)}
	}
	tx, err := db.Begin()
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	r.tx = tx
	return r
}

// work inserts a job with args (and opts, nil for the kind's own) and
// works it once. The worker's error, if any, is in the result's job
// (see requireRetried).
func (r *runner[T]) work(t *testing.T, args T, opts *river.InsertOpts) *rivertest.WorkResult {
	t.Helper()
	res, err := r.w.Work(context.Background(), t, r.tx, args, opts)
	if res == nil {
		require.NoError(t, err)
	}
	return res
}

// last works a job on its last attempt (MaxAttempts 1): a failure will not
// be retried.
func (r *runner[T]) last(t *testing.T, args T) *rivertest.WorkResult {
	t.Helper()
	return r.work(t, args, &river.InsertOpts{MaxAttempts: 1})
}

// requireCompleted, requireSnoozed, requireCancelled and requireRetried
// check the outcome River gave a job.
func requireCompleted(t *testing.T, res *rivertest.WorkResult) {
	t.Helper()
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.Equal(t, rivertype.JobStateCompleted, res.Job.State)
}

// requireSnoozed: the job runs again later (River leaves a short snooze
// available, with its time in the future).
func requireSnoozed(t *testing.T, res *rivertest.WorkResult) {
	t.Helper()
	require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
	require.Contains(t, []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled}, res.Job.State)
	require.True(t, res.Job.ScheduledAt.After(*res.Job.AttemptedAt), "scheduled after this run")
}

func requireCancelled(t *testing.T, res *rivertest.WorkResult) {
	t.Helper()
	require.Equal(t, river.EventKindJobCancelled, res.EventKind)
	require.Equal(t, rivertype.JobStateCancelled, res.Job.State)
}

// requireRetried: the job failed and River will run it again (available
// when the first retry is due at once, retryable when later).
func requireRetried(t *testing.T, res *rivertest.WorkResult, msg string) {
	t.Helper()
	require.Equal(t, river.EventKindJobFailed, res.EventKind)
	require.Contains(t, []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateRetryable}, res.Job.State)
	require.NotEmpty(t, res.Job.Errors)
	require.Contains(t, res.Job.Errors[len(res.Job.Errors)-1].Error, msg)
}

// requireDiscarded: the job failed on its last attempt and is given up.
func requireDiscarded(t *testing.T, res *rivertest.WorkResult, msg string) {
	t.Helper()
	require.Equal(t, river.EventKindJobFailed, res.EventKind)
	require.Equal(t, rivertype.JobStateDiscarded, res.Job.State)
	require.Contains(t, res.Job.Errors[len(res.Job.Errors)-1].Error, msg)
}

// platform is a fake connector that offers more than delivery: sync,
// lookups and media downloads, each answered by its func (nil: not
// called in the test).
type platform struct {
	*connector
	caps          []sdk.Capability
	sync          func(req *sdk.SyncRequest) (*sdk.SyncResult, error)
	lookupContact func(req *sdk.LookupRequest) (*sdk.Contact, error)
	lookupThread  func(req *sdk.LookupRequest) (*sdk.ThreadInfo, error)
	fetchMedia    func(req *sdk.FetchMediaRequest) (*sdk.MediaContent, error)
	refresh       func(req *sdk.CredentialsRequest) (*sdk.Credentials, error)
	publish       func(req *sdk.PublishRequest) (*sdk.PublishResult, error)
	publishStatus func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error)
	syncs         atomic.Int64
}

func (p *platform) Publish(_ context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	return p.publish(req)
}

func (p *platform) PublishStatus(_ context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	return p.publishStatus(req)
}

func (p *platform) FetchMedia(_ context.Context, req *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	return p.fetchMedia(req)
}

func (p *platform) RefreshCredentials(_ context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	return p.refresh(req)
}

func (p *platform) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "fake", Version: "1", Platforms: []string{"whatsapp"}, Capabilities: p.caps}, nil
}

func (p *platform) Sync(_ context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	p.syncs.Add(1)
	return p.sync(req)
}

func (p *platform) LookupContact(_ context.Context, req *sdk.LookupRequest) (*sdk.Contact, error) {
	return p.lookupContact(req)
}

func (p *platform) LookupThread(_ context.Context, req *sdk.LookupRequest) (*sdk.ThreadInfo, error) {
	return p.lookupThread(req)
}

// usePlatform makes the bundle's services reach p instead of its
// delivery-only connector.
func (b *bundle) usePlatform(caps ...sdk.Capability) *platform {
	p := &platform{connector: b.conn, caps: caps}
	b.inbox.Gateway = gateway{p}
	b.inbox.Channels.(*channel.Service).Gateway = gateway{p}
	return p
}

// retryLater is a platform's "retry in a minute".
func retryLater() error {
	return &sdk.Error{Class: sdk.ClassRetryable, Message: "rate limited", RetryAfter: time.Minute}
}

// newAgent is the agent on the bundle with provider: a knowledge base
// holding one indexed document (opening hours) on the store's vector
// tables, and the channel answering automatically.
func newAgent(t *testing.T, b *bundle, provider ai.Provider) *agent.Service {
	t.Helper()
	ctx := context.Background()
	vd := vector.DialectSQLite
	if b.store.Dialect == dialect.Postgres {
		vd = vector.DialectPostgres
	}
	vs, err := vector.NewEmbedded(b.store.DB, vd)
	require.NoError(t, err)
	require.NoError(t, vs.Migrate(ctx))
	kb := &knowledge.Service{Store: b.store, Provider: provider, Vectors: vs}
	doc, err := kb.Add(b.member, knowledge.DocumentInput{Title: "Hours", Content: "We open at 9am every day."})
	require.NoError(t, err)
	require.NoError(t, kb.Index(b.sys, jobargs.KBIndex{WorkspaceID: b.ws, DocumentID: string(doc.ID), Version: doc.Version}))
	require.NoError(t, b.store.Ent.Channel.UpdateOneID(b.ch.ID).SetAiMode(entchannel.AiModeAuto).Exec(b.sys))
	return &agent.Service{Store: b.store, Inbox: b.inbox, Knowledge: kb, Provider: provider}
}
