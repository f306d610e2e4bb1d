package google_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

// FuzzHandleWebhook feeds authenticated pushes with arbitrary bodies (the
// token does not cover the body, so any body reaches the parser): parsing
// must never panic, and must answer either events naming a review of
// their location, or a malformed error.
func FuzzHandleWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"message":{"data":""}}`))
	f.Add([]byte(`{"message":null}`))
	f.Add([]byte(`{"message":{"data":"eyJ0eXBlIjoiTkVXX1JFVklFVyIsInJldmlldyI6eyJuYW1lIjpudWxsfX0="}}`))
	f.Add([]byte(`{"notificationType":"NEW_REVIEW","reviewName":"accounts/1/locations/2/reviews/3","locationName":"locations/2"}`))

	key, _ := keys(f)
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	sb := sandbox.New(sandbox.WithClock(clock), sandbox.WithSigningKey(key))
	srv := httptest.NewServer(sb)
	f.Cleanup(srv.Close)
	c := google.New(google.WithHTTPClient(srv.Client()), google.WithClock(clock))
	app := sdk.App{APIBaseURL: srv.URL, Settings: map[string]string{
		google.SettingPubSubAudience: audience, google.SettingPubSubAccount: sandbox.DefaultServiceAccount}}
	tok, err := sb.Token(audience, sandbox.PushOptions{})
	require.NoError(f, err)
	header := map[string][]string{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}

	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := c.HandleWebhook(context.Background(), &sdk.WebhookRequest{App: app, Method: http.MethodPost,
			Path: "/webhooks/google", Header: header, Body: body, ReceivedAt: now})
		if err != nil {
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, sdk.ClassMalformed, e.Class, "%v", err)
			return
		}
		require.NotNil(t, res)
		for _, ev := range res.Events {
			require.Equal(t, sdk.EventNotify, ev.Kind)
			require.Equal(t, google.Platform, ev.Platform)
			require.NotNil(t, ev.Notify)
			require.Contains(t, []string{google.TypeNewReview, google.TypeUpdatedReview}, ev.Notify.Type)
			require.True(t, strings.HasPrefix(ev.Notify.ItemID, ev.AccountID+"/reviews/"), "%s not of %s", ev.Notify.ItemID, ev.AccountID)
			require.Equal(t, 3, strings.Count(ev.AccountID, "/"), ev.AccountID)
			require.False(t, ev.OccurredAt.IsZero())
		}
	})
}
