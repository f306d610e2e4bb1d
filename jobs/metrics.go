package jobs

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Metrics is River worker middleware that counts the jobs a process
// works, by kind and outcome, with how long each run took and how long
// the job waited in its queue before it. Install it with
// Config.Middleware on a client that works jobs.
//
// The outcomes are River's decisions on the run:
//
//   - completed: the worker returned nil;
//   - snoozed: it asked to run again later (river.JobSnooze);
//   - cancelled: it gave up for good (river.JobCancel, a permanent error);
//   - retried: it failed and a later attempt will run;
//   - discarded: it failed on its last attempt (a panic counts as a
//     failure, as River treats it).
type Metrics struct {
	river.WorkerMiddlewareDefaults

	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	wait     *prometheus.HistogramVec
}

// NewMetrics registers the job metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neksio_jobs_total", Help: "Job runs worked by this process, by kind and outcome (completed, snoozed, cancelled, retried, discarded).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "neksio_job_duration_seconds", Help: "How long a job's run took, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1 ms … about 4.4 min
		}, []string{"kind"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "neksio_job_queue_wait_seconds", Help: "How long a job waited in its queue, from when it could run to when a worker took it, by queue.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"queue"}),
	}
	reg.MustRegister(m.runs, m.duration, m.wait)
	return m
}

// Work times the run and counts its outcome.
func (m *Metrics) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) (err error) {
	if job.AttemptedAt != nil {
		if w := job.AttemptedAt.Sub(job.ScheduledAt); w >= 0 {
			m.wait.WithLabelValues(job.Queue).Observe(w.Seconds())
		}
	}
	start := time.Now()
	defer func() {
		m.duration.WithLabelValues(job.Kind).Observe(time.Since(start).Seconds())
		if p := recover(); p != nil {
			m.runs.WithLabelValues(job.Kind, failedOutcome(job)).Inc()
			panic(p) // River's executor recovers it and fails the run
		}
		m.runs.WithLabelValues(job.Kind, outcome(job, err)).Inc()
	}()
	return doInner(ctx)
}

// outcome names what River does with a run that returned err.
func outcome(job *rivertype.JobRow, err error) string {
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	switch {
	case err == nil:
		return "completed"
	case errors.As(err, &snooze):
		return "snoozed"
	case errors.As(err, &cancel):
		return "cancelled"
	default:
		return failedOutcome(job)
	}
}

// failedOutcome is a failed run's outcome. River retries a failure while
// the job has attempts left, and discards it after its last.
func failedOutcome(job *rivertype.JobRow) string {
	if job.Attempt >= job.MaxAttempts {
		return "discarded"
	}
	return "retried"
}

// CountErrors wraps h so that every record at level Error or above also
// increments a counter on reg, neksio_river_errors_total. River reports
// some failures only in its log: a periodic job whose insert options it
// refuses is never queued, and River says so only there. The counter lets
// an alert see it.
func CountErrors(h slog.Handler, reg prometheus.Registerer) slog.Handler {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "neksio_river_errors_total", Help: "Errors River logged (its maintenance services, periodic jobs, the producer): see the log for which.",
	})
	reg.MustRegister(c)
	return errorCounter{Handler: h, errors: c}
}

type errorCounter struct {
	slog.Handler
	errors prometheus.Counter
}

// Enabled is true for every error, whatever the wrapped handler's level,
// so that the counter sees it.
func (e errorCounter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || e.Handler.Enabled(ctx, l)
}

func (e errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		e.errors.Inc()
	}
	if !e.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return e.Handler.Handle(ctx, r)
}

func (e errorCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return errorCounter{Handler: e.Handler.WithAttrs(as), errors: e.errors}
}

func (e errorCounter) WithGroup(name string) slog.Handler {
	return errorCounter{Handler: e.Handler.WithGroup(name), errors: e.errors}
}

// QueueDepth is a Prometheus collector of how many jobs each queue holds
// by state, read from River's table when /metrics is scraped:
// neksio_jobs_queued{queue, state} for the jobs waiting to run
// (available), waiting for their time (scheduled), waiting to be retried
// (retryable) and running. A backlog of available jobs that grows is a
// worker pool that does not keep pace.
type QueueDepth struct {
	DB  *sql.DB
	Log *slog.Logger
}

var queuedDesc = prometheus.NewDesc("neksio_jobs_queued",
	"Jobs in River's table by queue and state (available, scheduled, retryable, running), read when scraped.",
	[]string{"queue", "state"}, nil)

// queueDepthSQL is the same on PostgreSQL and SQLite; River's state index
// leads with the state.
const queueDepthSQL = `SELECT queue, state, count(*) FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY queue, state`

func (q QueueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- queuedDesc }

// Collect reads the counts. When the database does not answer in two
// seconds the scrape goes on without them (the log says why), rather
// than fail every other metric of the process.
func (q QueueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := q.DB.QueryContext(ctx, queueDepthSQL)
	if err != nil {
		q.Log.Warn("metrics: counting queued jobs", "err", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			q.Log.Warn("metrics: counting queued jobs", "err", err)
			return
		}
		ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(n), queue, state)
	}
	if err := rows.Err(); err != nil {
		q.Log.Warn("metrics: counting queued jobs", "err", err)
	}
}
