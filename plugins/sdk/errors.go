package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorClass tells the host what to do about a failed call.
type ErrorClass string

const (
	// ClassRetryable: rate limits, 5xx, timeouts. Retry, after RetryAfter
	// when set.
	ClassRetryable ErrorClass = "retryable"
	// ClassWindowClosed: the platform's reply window has closed; only a
	// template or a tagged message may be sent.
	ClassWindowClosed ErrorClass = "window_closed"
	// ClassAuthRevoked: the channel's token is invalid or revoked; the
	// channel needs reconnecting.
	ClassAuthRevoked ErrorClass = "auth_revoked"
	// ClassPermanent: the request cannot succeed as it is.
	ClassPermanent ErrorClass = "permanent"
	// ClassUnauthenticated: a webhook's signature is missing or wrong.
	ClassUnauthenticated ErrorClass = "unauthenticated"
	// ClassMalformed: a webhook's body cannot be parsed.
	ClassMalformed ErrorClass = "malformed"
	// ClassUnsupported: the connector does not offer this surface.
	ClassUnsupported ErrorClass = "unsupported"
)

// Error is a classified failure. Connectors return it from every method;
// it crosses the plugin boundary intact.
type Error struct {
	Class ErrorClass
	// Code is the platform's error code, as text (e.g. "131047").
	Code    string
	Message string
	// RetryAfter is the platform's hint for ClassRetryable.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s: %s (code %s)", e.Class, e.Message, e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Class, e.Message)
}

// Is makes errors.Is(err, &Error{Class: c}) match on the class alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == "" && t.Message == "" && t.Class == e.Class
}

// NewError builds a classified error.
func NewError(class ErrorClass, code, format string, args ...any) *Error {
	return &Error{Class: class, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrRetryable       = &Error{Class: ClassRetryable}
	ErrWindowClosed    = &Error{Class: ClassWindowClosed}
	ErrAuthRevoked     = &Error{Class: ClassAuthRevoked}
	ErrPermanent       = &Error{Class: ClassPermanent}
	ErrUnauthenticated = &Error{Class: ClassUnauthenticated}
	ErrMalformed       = &Error{Class: ClassMalformed}
	ErrUnsupported     = &Error{Class: ClassUnsupported}
)

// ClassOf returns the class of err. Unclassified errors, context deadlines
// and cancellations are retryable: a call that did not say it failed for
// good may succeed later.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ClassRetryable
	}
	return ClassRetryable
}

// UnimplementedConnector answers ErrUnsupported for every method but
// Describe. Embed it to offer only some surfaces.
type UnimplementedConnector struct{}

func unsupported(method string) *Error {
	return NewError(ClassUnsupported, "", "%s is not supported by this connector", method)
}

func (UnimplementedConnector) VerifySubscription(context.Context, *VerifyRequest) (*VerifyResponse, error) {
	return nil, unsupported("VerifySubscription")
}
func (UnimplementedConnector) HandleWebhook(context.Context, *WebhookRequest) (*WebhookResult, error) {
	return nil, unsupported("HandleWebhook")
}
func (UnimplementedConnector) Send(context.Context, *SendRequest) (*SendResult, error) {
	return nil, unsupported("Send")
}
func (UnimplementedConnector) Publish(context.Context, *PublishRequest) (*PublishResult, error) {
	return nil, unsupported("Publish")
}
func (UnimplementedConnector) PublishStatus(context.Context, *PublishStatusRequest) (*PublishResult, error) {
	return nil, unsupported("PublishStatus")
}
func (UnimplementedConnector) Sync(context.Context, *SyncRequest) (*SyncResult, error) {
	return nil, unsupported("Sync")
}
func (UnimplementedConnector) ValidateCredentials(context.Context, *CredentialsRequest) (*AccountInfo, error) {
	return nil, unsupported("ValidateCredentials")
}
func (UnimplementedConnector) RefreshCredentials(context.Context, *CredentialsRequest) (*Credentials, error) {
	return nil, unsupported("RefreshCredentials")
}
func (UnimplementedConnector) Revoke(context.Context, *CredentialsRequest) error {
	return unsupported("Revoke")
}

// ParseRetryAfter reads an HTTP Retry-After value: delay-seconds (a
// fraction is accepted) or an HTTP date, relative to now. It answers 0 for
// an empty, malformed or past value.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case f <= 0 || f != f: // negative, zero or NaN
			return 0
		case f > maxRetryAfter.Seconds():
			return maxRetryAfter
		}
		return time.Duration(f * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter bounds a platform's hint, so a bogus value cannot park
// work for years.
const maxRetryAfter = 24 * time.Hour
