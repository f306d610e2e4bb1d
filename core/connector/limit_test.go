package connector

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
)

// A connector's request quota spaces its platform calls: a call waits its
// turn within its context, and one that could not start before its
// deadline fails retryable with the wait as RetryAfter, without reaching
// the platform. Calls that never reach the platform are not counted.
func TestRequestQuota(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	api := relayAPI(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"id":"out-1"}`)
	})
	tb := setup(t, Options{RequestsPerMinute: map[string]int{"webhookrelay": 1}})
	c, err := tb.mgr.Get("webhookrelay")
	require.NoError(t, err)
	send := func(ctx context.Context) error {
		_, err := c.Send(ctx, &sdk.SendRequest{App: sdk.App{APIBaseURL: api}, Kind: sdk.SendDirect, RecipientID: "u1", Text: "hi"})
		return err
	}
	require.NoError(t, send(context.Background()))
	require.EqualValues(t, 1, hits.Load())

	// One a minute: the next call may not start for about a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = send(ctx)
	var e *sdk.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, sdk.ClassRetryable, e.Class)
	require.Greater(t, e.RetryAfter, 30*time.Second)
	require.Contains(t, e.Message, "request quota")
	require.EqualValues(t, 1, hits.Load(), "the refused call never reached the platform")

	// A cancelled wait gives its turn back and fails retryable too.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	requireClass(t, sdk.ClassRetryable, send(cctx))
	require.EqualValues(t, 1, hits.Load())

	// Webhooks are verified locally: never held by the quota.
	_, err = c.HandleWebhook(ctx, &sdk.WebhookRequest{Body: []byte("{}")})
	requireClass(t, sdk.ClassUnauthenticated, err)
}

// Within its context a call waits for its turn instead of failing.
func TestRequestQuotaWaits(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	api := relayAPI(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"id":"out-1"}`)
	})
	tb := setup(t, Options{RequestsPerMinute: map[string]int{"webhookrelay": 120}})
	c, err := tb.mgr.Get("webhookrelay")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 3 {
		_, err := c.Send(ctx, &sdk.SendRequest{App: sdk.App{APIBaseURL: api}, Kind: sdk.SendDirect, RecipientID: "u1", Text: "hi"})
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, hits.Load())
}

func TestPlatformRules(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{})
	require.Nil(t, tb.mgr.PlatformRules("webhookrelay", "relay"), "the relay states no rules")
	require.Nil(t, tb.mgr.PlatformRules("nope", "relay"))
}
