package analytics_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent/posttarget"
)

// A FAILED target updated long after it failed (anything that moves
// updated_at but not the status) is counted once, in the hour it failed:
// an incremental pass whose lookback holds the update but not the failure
// neither counts it a second time nor moves it, and rollups equal the base
// tables. Before failed_at, POSTS_FAILED counted at updated_at: the pass
// added the update's hour while the failure's hour kept its count.
func TestFailedPostCountedOnceAfterLaterUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := newFixture(t, d) // a target on Google failed at 2026-03-30 15:00 UTC
		failed, err := f.s.Ent.PostTarget.Query().Where(posttarget.StatusEQ(posttarget.StatusFailed)).Only(f.sys)
		require.NoError(t, err)
		now := ts("2026-04-01T12:00:00Z")
		rolled := &analytics.Service{Store: f.s, Now: func() time.Time { return now }}
		_, err = rolled.Roll(context.Background(), string(f.ws.ID), true)
		require.NoError(t, err)

		// A day and a half later, past the lookback of the next pass, the
		// row is written again and stays FAILED.
		touched := ts("2026-04-02T10:20:00Z")
		require.NoError(t, f.s.Ent.PostTarget.UpdateOneID(failed.ID).SetErrorMessage("seen again").
			SetUpdatedAt(touched).Exec(f.sys))
		now = ts("2026-04-02T13:00:00Z")
		res, err := rolled.Roll(context.Background(), string(f.ws.ID), false)
		require.NoError(t, err)
		require.True(t, res.From.After(ts("2026-03-30T15:00:00Z")), "the failure's hour is before the pass's lookback")
		require.False(t, res.From.After(touched), "the update's hour is in the pass")

		req := analytics.Request{Range: analytics.Range{From: ts("2026-03-30T00:00:00Z"), To: ts("2026-04-02T12:00:00Z"), Timezone: "UTC"}}
		base := &analytics.Service{Store: f.s, NoRollups: true}
		for name, svc := range map[string]*analytics.Service{"base tables": base, "rollups": rolled} {
			r, err := svc.Open(f.admin(), req)
			require.NoError(t, err, name)
			sum, err := r.Summary(f.admin())
			require.NoError(t, err, name)
			require.NotNil(t, sum["POSTS_FAILED"].Value, name)
			require.Equal(t, 1.0, *sum["POSTS_FAILED"].Value, name)
			series, err := r.Timeseries(f.admin(), []analytics.Metric{"POSTS_FAILED"}, analytics.Hour)
			require.NoError(t, err, name)
			require.Len(t, series, 1, name)
			for _, p := range series[0].Points {
				want := 0.0
				if p.Start.Equal(ts("2026-03-30T15:00:00Z")) {
					want = 1
				}
				if p.Value != nil || want != 0 {
					require.NotNil(t, p.Value, "%s at %s", name, p.Start)
					require.Equal(t, want, *p.Value, "%s at %s", name, p.Start)
				}
			}
		}
		want := answer(t, f.admin(), base, req, analytics.Hour)
		got := answer(t, f.admin(), rolled, req, analytics.Hour)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("rollups and base tables differ: %s", firstDiff(want, got))
		}
	})
}
