package jobs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/plugins/sdk"
)

// retry is the one mapping of a classified error to River: each class,
// on a run with attempts left and on the last one.
func TestRetryMapsClasses(t *testing.T) {
	first := &rivertype.JobRow{Attempt: 1, MaxAttempts: 5, Metadata: []byte(`{}`)}
	last := &rivertype.JobRow{Attempt: 5, MaxAttempts: 5, Metadata: []byte(`{}`)}
	base := errors.New("boom")
	limited := fmt.Errorf("inbox: %w", apperr.Retry(base, 30*time.Second))
	quick := apperr.Retry(base, time.Millisecond)
	provider := &ai.Error{Kind: ai.KindRateLimited, Provider: "test", Op: "chat", RetryAfter: time.Minute}
	cases := []struct {
		name   string
		job    *rivertype.JobRow
		err    error
		snooze time.Duration // > 0: a snooze of this length
		cancel bool
		same   bool // returned as it is, for River's retry
	}{
		{"transient with a delay", first, limited, 30 * time.Second, false, false},
		{"a delay below the backoff waits the backoff", first, quick, backoff(1), false, false},
		{"a provider's rate limit", first, provider, time.Minute, false, false},
		{"transient without a delay", first, apperr.Retry(base, 0), 0, false, true},
		{"unclassified", first, base, 0, false, true},
		{"a connector's error the service did not classify", first, &sdk.Error{Class: sdk.ClassRetryable, RetryAfter: time.Minute}, 0, false, true},
		{"a permanent provider error", first, &ai.Error{Kind: ai.KindPermanent, Provider: "test", Op: "chat"}, 0, false, true},
		{"transient on the last run", last, limited, 0, false, true},
		{"permanent", first, apperr.Permanent(limited), 0, true, false},
		{"permanent on the last run", last, apperr.Permanent(base), 0, true, false},
	}
	for _, c := range cases {
		got := retry(c.job, c.err)
		var snooze *river.JobSnoozeError
		var cancel *river.JobCancelError
		switch {
		case c.snooze > 0:
			if !errors.As(got, &snooze) || snooze.Duration != c.snooze {
				t.Errorf("%s: got %v, want a snooze of %s", c.name, got, c.snooze)
			}
		case c.cancel:
			if !errors.As(got, &cancel) || !errors.Is(got, base) {
				t.Errorf("%s: got %v, want a cancel wrapping the error", c.name, got)
			}
		case c.same:
			if got != c.err {
				t.Errorf("%s: got %v, want the error itself", c.name, got)
			}
		}
	}
	if retry(first, nil) != nil {
		t.Error("nil stays nil")
	}
}
