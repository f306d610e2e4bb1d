// Package apperr is the one classification of the domain's errors.
//
// Two questions are answered here, for two readers:
//
//   - What should a client be told? An *Error (or a Sentinel such as
//     tenant.ErrForbidden) carries a Code; graph/errors.go maps it to
//     extensions.code in one place. Core code returns them wrapped with %w.
//   - May a job that failed with it succeed if it runs again? A transient
//     failure is an *Transient (built by Retry) or any error with a Retry
//     method (ai.Error classifies itself); Permanent marks a failure no
//     later run gets over. Core services return these and never decide
//     retries; the River workers in jobs/ alone map them to a retry, a
//     bounded snooze or a cancel (jobs/retry.go). A connector's *sdk.Error
//     is translated to them in one place: connector.Classify.
//
// The package imports nothing of the application.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error for clients.
type Code string

const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeBadUserInput    Code = "BAD_USER_INPUT"
	CodeConflict        Code = "CONFLICT"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeUnavailable     Code = "UNAVAILABLE"
	CodeInternal        Code = "INTERNAL"
	// CodeWindowClosed: the platform accepts no free-form reply in this
	// conversation now (its reply window closed, or the business sent
	// as many messages as the window allows); it opens again when the
	// customer writes.
	CodeWindowClosed Code = "WINDOW_CLOSED"
)

// Error is a domain error safe to show to the caller.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, for BAD_USER_INPUT.
	Field      string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New builds an error with a code.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound says an object does not exist for this viewer. Objects of
// other workspaces are reported the same way: their existence is not
// revealed.
func NotFound(kind string) *Error { return New(CodeNotFound, "%s not found", kind) }

// Invalid reports bad input in a field.
func Invalid(field, format string, args ...any) *Error {
	e := New(CodeBadUserInput, format, args...)
	e.Field = field
	return e
}

// Forbidden reports a missing permission.
func Forbidden(format string, args ...any) *Error { return New(CodeForbidden, format, args...) }

// Unavailable reports a dependency that is down; the call may succeed later.
func Unavailable(err error, format string, args ...any) *Error {
	e := New(CodeUnavailable, format, args...)
	e.Err = err
	return e
}

// Sentinel is a classified error value, compared with errors.Is
// (tenant.ErrForbidden, auth.ErrInvalidKey). Unlike an *Error its text is
// not a message written for the client: the GraphQL layer words it from
// its code.
type Sentinel struct {
	code Code
	text string
}

// NewSentinel builds a sentinel with a code and its text.
func NewSentinel(code Code, text string) *Sentinel { return &Sentinel{code: code, text: text} }

func (s *Sentinel) Error() string { return s.text }

// Code is the sentinel's code.
func (s *Sentinel) Code() Code { return s.code }

// CodeOf returns the code of err: the first *Error's, else a Sentinel's;
// CodeInternal when it has none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var s *Sentinel
	if errors.As(err, &s) {
		return s.code
	}
	return CodeInternal
}
