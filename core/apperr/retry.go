package apperr

import (
	"errors"
	"time"
)

// Retryer is implemented by an error that classifies itself as transient
// or not (ai.Error does, by its kind). Retry reports whether a later run
// may succeed and the delay the failing side asked for (0: none).
type Retryer interface {
	Retry() (after time.Duration, ok bool)
}

// Transient is a failure a later run may get over: a platform's or
// provider's rate limit or 5xx, a connector that is restarting, a database
// error while recording. Whether and when the job runs again is the
// worker's decision, never the service's.
type Transient struct {
	Err error
	// RetryAfter is the delay the other side asked for (a Retry-After);
	// zero when it named none.
	RetryAfter time.Duration
}

// Retry marks err as transient, to be tried again after after when it is
// positive. It is the one way core code says "retry". Retry(nil, d) is
// nil.
func Retry(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &Transient{Err: err, RetryAfter: max(after, 0)}
}

// Error is the wrapped error's text: the classification does not change
// what a person or a log reads.
func (e *Transient) Error() string { return e.Err.Error() }

func (e *Transient) Unwrap() error { return e.Err }

// Retry implements Retryer.
func (e *Transient) Retry() (time.Duration, bool) { return e.RetryAfter, true }

// RetryAfter reports whether err is transient — the first error in its
// chain that classifies itself (a *Transient, an ai.Error) says so — and
// the delay it asked for (0: none).
func RetryAfter(err error) (after time.Duration, ok bool) {
	var r Retryer
	if errors.As(err, &r) {
		return r.Retry()
	}
	return 0, false
}

// permanent is a failure no later run gets over.
type permanent struct{ err error }

func (e *permanent) Error() string { return e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// Permanent marks err as one no later run gets over (a give-up method's
// answer when there is nothing to record): the worker cancels the job
// instead of retrying it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}
