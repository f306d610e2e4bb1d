// Package apperr holds the domain's typed errors. The GraphQL layer maps
// them to extensions.code in one place (graph/errors.go); core code returns
// them wrapped with %w.
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

// CodeOf returns the code of err, CodeInternal when it has none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
