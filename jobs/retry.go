package jobs

import (
	"encoding/json"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/neksio/neksio/core/apperr"
)

// runs is how many times job has run, this run included. River gives a
// snoozed job its attempt back and counts the snooze in the job's
// metadata ("snoozes") instead: counting both keeps a job that is told
// "retry later" every time — a rate limit that never lifts, a connector
// that keeps crashing — from running forever.
func runs(job *rivertype.JobRow) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &m) // River writes it; nothing to count otherwise
	return job.Attempt + m.Snoozes
}

// lastRun reports whether a failure of this run will not be retried: the
// worker must then settle the job's outcome itself (a reply FAILED and its
// conversation handed to a person, a run recorded as handed off).
func lastRun(job *rivertype.JobRow) bool { return runs(job) >= job.MaxAttempts }

// backoff is the wait after the n-th run: 2, 4, 8 … seconds, at most about
// an hour, so 12 runs span about an hour.
func backoff(n int) time.Duration { return time.Duration(1<<min(max(n, 1), 12)) * time.Second }

// retry is the one place a classified error becomes River's decision;
// every worker returns what it returns:
//
//   - nil: the job is done;
//   - apperr.Permanent: no later run gets over it, the job is cancelled
//     (river.JobCancel);
//   - transient (apperr.RetryAfter: an *apperr.Transient, an ai.Error of a
//     retryable kind) with a delay, and a run is left: snoozed for that
//     delay, never less than the backoff (retryAfter);
//   - anything else, a transient error without a delay included: returned
//     for River's retry after the worker's NextRetry (or River's default),
//     which discards the job once its attempts are spent.
//
// On the last run the workers call their service's give-up method
// (...LastAttempt), whose answer goes through here too.
func retry(job *rivertype.JobRow, err error) error {
	if err == nil {
		return nil
	}
	if apperr.IsPermanent(err) {
		return river.JobCancel(err)
	}
	if d, ok := apperr.RetryAfter(err); ok && d > 0 && !lastRun(job) {
		return retryAfter(job, d)
	}
	return err
}

// retryAfter runs job again once the platform's or provider's delay d has
// passed, and never sooner than the backoff of a failed run: a "retry in a
// second" that keeps coming still backs off. The run counts towards the
// job's attempts (see runs).
func retryAfter(job *rivertype.JobRow, d time.Duration) error {
	return river.JobSnooze(max(d, backoff(runs(job))))
}
