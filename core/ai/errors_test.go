package ai_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
)

// A provider's failure is classified for the job layer through apperr,
// like every other failure: rate limits and transient failures with the
// server's delay, permanent ones not at all.
func TestErrorClassifiesThroughApperr(t *testing.T) {
	cases := []struct {
		kind  ai.Kind
		after time.Duration
		ok    bool
	}{
		{ai.KindRateLimited, 7 * time.Second, true},
		{ai.KindTransient, 0, true},
		{ai.KindPermanent, 0, false},
	}
	for _, c := range cases {
		err := fmt.Errorf("agent: %w", &ai.Error{Kind: c.kind, Provider: "test", Op: "chat", RetryAfter: c.after})
		after, ok := apperr.RetryAfter(err)
		if after != c.after || ok != c.ok {
			t.Errorf("%s: apperr.RetryAfter = %v, %v; want %v, %v", c.kind, after, ok, c.after, c.ok)
		}
		if ok != ai.Retryable(err) {
			t.Errorf("%s: apperr and ai.Retryable disagree", c.kind)
		}
	}
}
