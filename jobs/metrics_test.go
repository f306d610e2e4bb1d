package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/jobs"
)

// metricsProbe is a job whose worker does what its args say.
type metricsProbe struct {
	Do string `json:"do"`
}

func (metricsProbe) Kind() string { return "test.metrics_probe" }

type metricsProbeWorker struct {
	river.WorkerDefaults[metricsProbe]
}

func (metricsProbeWorker) Work(_ context.Context, job *river.Job[metricsProbe]) error {
	switch job.Args.Do {
	case "fail":
		return errors.New("probe failed")
	case "snooze":
		return river.JobSnooze(time.Minute)
	case "cancel":
		return river.JobCancel(errors.New("probe gave up"))
	case "panic":
		panic("probe panicked")
	}
	return nil
}

// The middleware's outcome for each run is the state River gave the job,
// and every run is timed.
func TestMetricsCountWhatRiverDecided(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		reg := prometheus.NewRegistry()
		w := rivertest.NewWorker(t, s.Driver, &river.Config{Middleware: []rivertype.Middleware{jobs.NewMetrics(reg)}}, river.Worker[metricsProbe](&metricsProbeWorker{}))
		tx, err := s.DB.Begin()
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback() })

		cases := []struct {
			do          string
			maxAttempts int
			outcome     string
			states      []rivertype.JobState
		}{
			{"complete", 0, "completed", []rivertype.JobState{rivertype.JobStateCompleted}},
			// River makes a retry due within seconds available at once.
			{"fail", 0, "retried", []rivertype.JobState{rivertype.JobStateRetryable, rivertype.JobStateAvailable}},
			{"fail", 1, "discarded", []rivertype.JobState{rivertype.JobStateDiscarded}},
			{"panic", 1, "discarded", []rivertype.JobState{rivertype.JobStateDiscarded}},
			{"snooze", 0, "snoozed", []rivertype.JobState{rivertype.JobStateScheduled}},
			{"cancel", 0, "cancelled", []rivertype.JobState{rivertype.JobStateCancelled}},
		}
		for _, c := range cases {
			var opts *river.InsertOpts
			if c.maxAttempts > 0 {
				opts = &river.InsertOpts{MaxAttempts: c.maxAttempts}
			}
			res, _ := w.Work(context.Background(), t, tx, metricsProbe{Do: c.do}, opts)
			require.NotNil(t, res, c.do)
			require.Contains(t, c.states, res.Job.State, "%s (max attempts %d): River's state", c.do, c.maxAttempts)
		}
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP neksio_jobs_total Job runs worked by this process, by kind and outcome (completed, snoozed, cancelled, retried, discarded).
# TYPE neksio_jobs_total counter
neksio_jobs_total{kind="test.metrics_probe",outcome="cancelled"} 1
neksio_jobs_total{kind="test.metrics_probe",outcome="completed"} 1
neksio_jobs_total{kind="test.metrics_probe",outcome="discarded"} 2
neksio_jobs_total{kind="test.metrics_probe",outcome="retried"} 1
neksio_jobs_total{kind="test.metrics_probe",outcome="snoozed"} 1
`), "neksio_jobs_total"))
		require.Equal(t, len(cases), histogramCount(t, reg, "neksio_job_duration_seconds"), "every run timed")
		require.Equal(t, len(cases), histogramCount(t, reg, "neksio_job_queue_wait_seconds"), "every run's wait observed")
	})
}

// histogramCount is how many observations the histogram family name holds
// over all its labels.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	n := 0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				n += int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return n
}

// The queue depth is what River's table holds, by queue and state.
func TestQueueDepthCountsRiversTable(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		client := insertOnlyClient(t, s)
		ctx := context.Background()
		for _, opts := range []*river.InsertOpts{
			nil, nil, {Queue: "other"}, {ScheduledAt: time.Now().Add(time.Hour)},
		} {
			_, err := client.Insert(ctx, metricsProbe{}, opts)
			require.NoError(t, err)
		}
		depth := jobs.QueueDepth{DB: s.DB, Log: slog.New(slog.DiscardHandler)}
		require.NoError(t, testutil.CollectAndCompare(depth, strings.NewReader(`
# HELP neksio_jobs_queued Jobs in River's table by queue and state (available, scheduled, retryable, running), read when scraped.
# TYPE neksio_jobs_queued gauge
neksio_jobs_queued{queue="default",state="available"} 2
neksio_jobs_queued{queue="default",state="scheduled"} 1
neksio_jobs_queued{queue="other",state="available"} 1
`)))

		// A database that does not answer leaves the gauge out of the
		// scrape instead of failing it.
		require.NoError(t, s.DB.Close())
		require.Zero(t, testutil.CollectAndCount(depth))
	})
}

// A periodic job whose unique states River refuses is never queued, and
// River says so only in its log: the error counter sees it, and the log
// still gets the record.
func TestCountErrorsSeesARefusedPeriodicJob(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.SQLite)
	reg := prometheus.NewRegistry()
	var out testenv.LogBuffer
	log := slog.New(jobs.CountErrors(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError}), reg))
	workers := river.NewWorkers()
	river.AddWorker(workers, river.Worker[metricsProbe](&metricsProbeWorker{}))
	client, err := river.NewClient(s.Driver, &river.Config{
		Logger: log, Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) {
				// "running" is missing: River requires it.
				return metricsProbe{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
					rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled,
				}}}
			}, &river.PeriodicJobOpts{RunOnStart: true})},
	})
	require.NoError(t, err)
	startClient(t, client)
	require.Eventually(t, func() bool {
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "neksio_river_errors_total" && f.GetMetric()[0].GetCounter().GetValue() >= 1 {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "missing: running") }, 5*time.Second, 20*time.Millisecond,
		"the log still gets River's record")

	// Below the wrapped handler's level, records are counted only if they
	// are errors, and not written.
	log.Warn("not an error")
	require.NotContains(t, out.String(), "not an error")
}
