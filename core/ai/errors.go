package ai

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a provider failure by what the caller should do about it.
type Kind int

// Failure kinds.
const (
	// KindTransient: the endpoint is down, overloaded or timed out; retry
	// with backoff.
	KindTransient Kind = iota + 1
	// KindRateLimited: retry after Error.RetryAfter (or a backoff when zero).
	KindRateLimited
	// KindPermanent: bad request, bad credentials, unknown model; retrying
	// cannot help until configuration changes.
	KindPermanent
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindRateLimited:
		return "rate limited"
	case KindPermanent:
		return "permanent"
	default:
		return "unknown"
	}
}

// Sentinels to test an error's kind with errors.Is.
var (
	ErrTransient   = errors.New("ai: transient failure")
	ErrRateLimited = errors.New("ai: rate limited")
	ErrPermanent   = errors.New("ai: permanent failure")
)

// Error is a classified provider failure.
type Error struct {
	Kind     Kind
	Provider string
	// Op is the call that failed: "chat", "embed", "answer" or "sentiment".
	Op string
	// StatusCode is the HTTP status when there was one.
	StatusCode int
	// RetryAfter is the server's requested delay for KindRateLimited (and
	// sometimes 503); zero when it sent none.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("ai %s %s: %s", e.Provider, e.Op, e.Kind)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTransient:
		return e.Kind == KindTransient
	case ErrRateLimited:
		return e.Kind == KindRateLimited
	case ErrPermanent:
		return e.Kind == KindPermanent
	}
	return false
}

// Retry classifies the failure for the job layer (apperr.Retryer): rate
// limits and transient failures may pass, with the server's delay;
// permanent ones do not. Workers decide retries through apperr.RetryAfter,
// which finds this method; Kind, Retryable and RetryAfter are for core/ai's
// own callers (whether to fall back to the offline engine).
func (e *Error) Retry() (time.Duration, bool) {
	return e.RetryAfter, e.Kind == KindTransient || e.Kind == KindRateLimited
}

// Retryable reports whether err is worth retrying: rate limits and transient
// failures are, permanent failures are not. Unclassified errors (a bug, a
// cancelled context) are not, so the job layer does not spin on them.
func Retryable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrRateLimited)
}

// RetryAfter returns the delay a rate-limited (or overloaded) endpoint asked
// for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}
