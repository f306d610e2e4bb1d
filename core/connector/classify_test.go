package connector

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/plugins/sdk"
)

func TestClassify(t *testing.T) {
	limited := &sdk.Error{Class: sdk.ClassRetryable, Code: "4", Message: "rate limited", RetryAfter: 7 * time.Second}
	cases := []struct {
		name  string
		err   error
		after time.Duration
		ok    bool
	}{
		{"retryable with the platform's delay", fmt.Errorf("send: %w", limited), 7 * time.Second, true},
		{"retryable without one", sdk.NewError(sdk.ClassRetryable, "", "5xx"), 0, true},
		{"unclassified counts as retryable", errors.New("connection reset"), 0, true},
		{"permanent is left to the service", sdk.NewError(sdk.ClassPermanent, "", "bad media"), 0, false},
		{"auth revoked is left to the service", sdk.ErrAuthRevoked, 0, false},
	}
	for _, c := range cases {
		err := Classify(c.err)
		after, ok := apperr.RetryAfter(err)
		if after != c.after || ok != c.ok {
			t.Errorf("%s: RetryAfter = %v, %v; want %v, %v", c.name, after, ok, c.after, c.ok)
		}
		if sdk.ClassOf(err) != sdk.ClassOf(c.err) || err.Error() != c.err.Error() {
			t.Errorf("%s: the connector's class and text must stay visible", c.name)
		}
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil)")
	}
}
