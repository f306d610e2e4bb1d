package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	entexport "github.com/neksio/neksio/ent/export"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
)

func TestAnalyticsRollupWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.inbound(t, "hi")
		// Two hours on, the message's hour has settled.
		svc := &analytics.Service{Store: b.store, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
		r := newRunner(t, d, b, &jobs.AnalyticsRollupWorker{Analytics: svc})

		requireCompleted(t, r.work(t, jobargs.AnalyticsRollup{}, nil))
		wm, err := b.store.Ent.AnalyticsWatermark.Query().Only(b.sys)
		require.NoError(t, err, "the workspace is rolled up")
		require.Greater(t, wm.RolledUntil, time.Now().Add(-time.Hour).Unix(), "up to the settled hour")
		n, err := b.store.Ent.AnalyticsRollup.Query().Count(b.sys)
		require.NoError(t, err)
		require.Positive(t, n, "the message is counted")

		// A database that fails: River retries the pass.
		dead := storetest.Open(t, d)
		require.NoError(t, dead.Close())
		r = newRunner(t, d, b, &jobs.AnalyticsRollupWorker{Analytics: &analytics.Service{Store: dead}})
		requireRetried(t, r.work(t, jobargs.AnalyticsRollup{}, nil), "analytics")
	})
}

// privacyKit is core/privacy's service on the bundle's store, with a clock
// the test moves.
type privacyKit struct {
	svc *privacy.Service
	mu  sync.Mutex
	now time.Time
}

func (k *privacyKit) Now() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.now
}

func (k *privacyKit) advance(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = k.now.Add(d)
}

func newPrivacy(t *testing.T, b *bundle) *privacyKit {
	t.Helper()
	dir := t.TempDir()
	bucket, err := media.OpenBucket(context.Background(), "", dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bucket.Close() })
	k := &privacyKit{now: time.Now()}
	k.svc = &privacy.Service{Store: b.store, Bucket: bucket, LocalDir: filepath.Join(dir, "media"),
		Channels: b.inbox.Channels.(*channel.Service), Sessions: &auth.Service{Store: b.store},
		SignKey: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://neksio.example.com",
		Grace: 24 * time.Hour, Now: k.Now}
	return k
}

// deleted deletes the bundle's workspace: it is purged once the grace has
// passed.
func deleted(t *testing.T, b *bundle, k *privacyKit) {
	t.Helper()
	_, err := k.svc.DeleteWorkspace(b.member, "cafe")
	require.NoError(t, err)
}

// gone reports whether the bundle's workspace was purged.
func gone(t *testing.T, b *bundle) bool {
	t.Helper()
	n, err := b.store.Ent.Workspace.Query().Count(tenant.NewContext(context.Background(), tenant.PlatformViewer("test")))
	require.NoError(t, err)
	return n == 0
}

func TestExportBuildWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.inbound(t, "hi")
		k := newPrivacy(t, b)
		r := newRunner(t, d, b, &jobs.ExportBuildWorker{Privacy: k.svc})
		export := func() jobargs.ExportBuild {
			ex, err := k.svc.RequestExport(b.member, entexport.ScopeWorkspace, nil)
			require.NoError(t, err)
			return jobargs.ExportBuild{WorkspaceID: b.ws, ExportID: string(ex.ID)}
		}
		status := func(args jobargs.ExportBuild) entexport.Status {
			ex, err := b.store.Ent.Export.Get(b.sys, pulid.ID(args.ExportID))
			require.NoError(t, err)
			return ex.Status
		}

		// A bucket that cannot be written: retried, then FAILED on the
		// last run.
		good := k.svc.Bucket
		closed, err := media.OpenBucket(context.Background(), "", t.TempDir())
		require.NoError(t, err)
		require.NoError(t, closed.Close())
		k.svc.Bucket = closed
		args := export()
		requireRetried(t, r.work(t, args, nil), "")
		requireCompleted(t, r.last(t, args))
		require.Equal(t, entexport.StatusFailed, status(args))

		k.svc.Bucket = good
		args = export()
		requireCompleted(t, r.work(t, args, nil))
		require.Equal(t, entexport.StatusReady, status(args))
		ex, err := b.store.Ent.Export.Get(b.sys, pulid.ID(args.ExportID))
		require.NoError(t, err)
		ok, err := good.Exists(context.Background(), ex.StorageKey)
		require.NoError(t, err)
		require.True(t, ok, "the archive is in the bucket")
		require.Positive(t, ex.Size)
	})
}

func TestWorkspacePurgeWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.inbound(t, "hi")
		k := newPrivacy(t, b)
		r := newRunner(t, d, b, &jobs.WorkspacePurgeWorker{Privacy: k.svc})
		deleted(t, b, k)
		args := jobargs.WorkspacePurge{WorkspaceID: b.ws}

		requireCompleted(t, r.work(t, args, nil))
		require.False(t, gone(t, b), "not purged before the grace has passed")

		k.advance(25 * time.Hour)
		requireCompleted(t, r.work(t, args, nil))
		require.True(t, gone(t, b), "purged")
	})
}

func TestPrivacySweepWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.inbound(t, "hi")
		k := newPrivacy(t, b)
		var asked []string
		var policyErr error
		policy := func(_ context.Context, ws string) (privacy.Retention, error) {
			asked = append(asked, ws)
			return privacy.Retention{}, policyErr
		}
		r := newRunner(t, d, b, &jobs.PrivacySweepWorker{Privacy: k.svc, Policy: policy})

		requireCompleted(t, r.work(t, jobargs.PrivacySweep{}, nil))
		require.Equal(t, []string{b.ws}, asked, "retention is asked for the workspace")

		policyErr = errors.New("settings unreadable")
		requireRetried(t, r.work(t, jobargs.PrivacySweep{}, nil), "settings unreadable")
		policyErr = nil

		deleted(t, b, k)
		k.advance(25 * time.Hour)
		requireCompleted(t, r.work(t, jobargs.PrivacySweep{}, nil))
		require.True(t, gone(t, b), "a deleted workspace past its grace is purged")
	})
}
