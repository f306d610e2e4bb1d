package apperr_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neksio/neksio/core/apperr"
)

// selfClassified stands for an error of another package that classifies
// itself (ai.Error).
type selfClassified struct {
	after time.Duration
	ok    bool
}

func (e selfClassified) Error() string                { return "self-classified" }
func (e selfClassified) Retry() (time.Duration, bool) { return e.after, e.ok }

func TestRetryAfter(t *testing.T) {
	base := errors.New("platform said 429")
	cases := []struct {
		name  string
		err   error
		after time.Duration
		ok    bool
	}{
		{"nil", nil, 0, false},
		{"unclassified", base, 0, false},
		{"transient", apperr.Retry(base, 0), 0, true},
		{"transient with a delay, wrapped", fmt.Errorf("inbox: %w", apperr.Retry(base, 7*time.Second)), 7 * time.Second, true},
		{"a negative delay is none", apperr.Retry(base, -time.Second), 0, true},
		{"self-classified transient", fmt.Errorf("x: %w", selfClassified{3 * time.Second, true}), 3 * time.Second, true},
		{"self-classified permanent", selfClassified{0, false}, 0, false},
		{"permanent around transient stays transient to RetryAfter", apperr.Permanent(apperr.Retry(base, time.Second)), time.Second, true},
	}
	for _, c := range cases {
		after, ok := apperr.RetryAfter(c.err)
		if after != c.after || ok != c.ok {
			t.Errorf("%s: RetryAfter = %v, %v; want %v, %v", c.name, after, ok, c.after, c.ok)
		}
	}
	if apperr.Retry(nil, time.Second) != nil || apperr.Permanent(nil) != nil {
		t.Error("classifying nil must stay nil")
	}
}

func TestClassesKeepTheErrorReadable(t *testing.T) {
	base := apperr.NotFound("message")
	for _, err := range []error{apperr.Retry(base, time.Second), apperr.Permanent(base)} {
		if err.Error() != base.Error() {
			t.Errorf("text %q, want %q", err.Error(), base.Error())
		}
		if !errors.Is(err, base) || apperr.CodeOf(err) != apperr.CodeNotFound {
			t.Errorf("%v: the wrapped error and its code must stay visible", err)
		}
	}
	if !apperr.IsPermanent(fmt.Errorf("lookup: %w", apperr.Permanent(base))) || apperr.IsPermanent(apperr.Retry(base, 0)) {
		t.Error("IsPermanent")
	}
	var tr *apperr.Transient
	if !errors.As(fmt.Errorf("x: %w", apperr.Retry(base, 2*time.Second)), &tr) || tr.RetryAfter != 2*time.Second {
		t.Error("a *Transient is found with errors.As")
	}
}

func TestCodeOf(t *testing.T) {
	forbidden := apperr.NewSentinel(apperr.CodeForbidden, "forbidden")
	cases := []struct {
		err  error
		want apperr.Code
	}{
		{errors.New("boom"), apperr.CodeInternal},
		{apperr.Invalid("text", "too long"), apperr.CodeBadUserInput},
		{fmt.Errorf("%w: role ADMIN required", forbidden), apperr.CodeForbidden},
		// The first *Error wins over a sentinel it wraps.
		{&apperr.Error{Code: apperr.CodeNotFound, Message: "x", Err: forbidden}, apperr.CodeNotFound},
	}
	for _, c := range cases {
		if got := apperr.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	if forbidden.Error() != "forbidden" || forbidden.Code() != apperr.CodeForbidden {
		t.Error("a sentinel's text and code")
	}
}
