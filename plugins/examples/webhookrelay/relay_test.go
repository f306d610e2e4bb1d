package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func TestHandleWebhook(t *testing.T) {
	t.Parallel()
	c := sdktest.Connect(t, &Relay{})
	app := sdk.App{ClientSecret: "relay-secret"}
	body := []byte(`{"account":"shop-1","messages":[
		{"id":"m1","from":"u1","name":"Ada","text":"Do you ship to Lyon?","timestamp":1767225600},
		{"id":"m2","from":"u2","text":"hi"}]}`)

	res, err := c.HandleWebhook(context.Background(), sdktest.HMACSignedWebhook(app, SignatureHeader, body))
	require.NoError(t, err)
	require.Len(t, res.Events, 2)
	ev := res.Events[0]
	require.Equal(t, sdk.EventMessage, ev.Kind)
	require.Equal(t, "shop-1", ev.AccountID)
	require.Equal(t, "m1", ev.Message.ExternalID)
	require.Equal(t, sdk.Inbound, ev.Message.Direction)
	require.Equal(t, "u1", ev.Message.ThreadID)
	require.Equal(t, sdk.Contact{ExternalID: "u1", Name: "Ada"}, ev.Message.Contact)
	require.Equal(t, "Do you ship to Lyon?", ev.Message.Text)
	require.Equal(t, time.Unix(1767225600, 0).UTC(), ev.Message.Timestamp)
	// Without a timestamp, the time of receipt stands in.
	require.False(t, res.Events[1].Message.Timestamp.IsZero())

	tampered := sdktest.HMACSignedWebhook(app, SignatureHeader, body)
	tampered.Body = append([]byte(nil), body...)
	tampered.Body[5] = 'X'
	_, err = c.HandleWebhook(context.Background(), tampered)
	sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)

	bad := []byte(`{"account":`)
	_, err = c.HandleWebhook(context.Background(), sdktest.HMACSignedWebhook(app, SignatureHeader, bad))
	sdktest.RequireClass(t, sdk.ClassMalformed, err)
}

func TestSend(t *testing.T) {
	t.Parallel()
	type answer struct {
		status     int
		retryAfter string
		body       string
	}
	cases := []struct {
		name      string
		answer    answer
		class     sdk.ErrorClass
		retryHint time.Duration
	}{
		{name: "ok", answer: answer{status: 200, body: `{"id":"out-1"}`}},
		{name: "rate limited", answer: answer{status: 429, retryAfter: "7", body: "slow down"}, class: sdk.ClassRetryable, retryHint: 7 * time.Second},
		{name: "server error", answer: answer{status: 503}, class: sdk.ClassRetryable},
		{name: "token revoked", answer: answer{status: 401}, class: sdk.ClassAuthRevoked},
		{name: "bad request", answer: answer{status: 400, body: "no such user"}, class: sdk.ClassPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got map[string]string
			var auth, idem string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "/messages", r.URL.Path)
				auth, idem = r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")
				b, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(b, &got)
				if tc.answer.retryAfter != "" {
					w.Header().Set("Retry-After", tc.answer.retryAfter)
				}
				w.WriteHeader(tc.answer.status)
				_, _ = io.WriteString(w, tc.answer.body)
			}))
			t.Cleanup(srv.Close)

			c := sdktest.Connect(t, &Relay{})
			res, err := c.Send(context.Background(), &sdk.SendRequest{
				App:         sdk.App{APIBaseURL: srv.URL + "/"},
				Credentials: sdk.Credentials{AccessToken: "tok"},
				AccountID:   "shop-1", Kind: sdk.SendDirect, RecipientID: "u1", Text: "Yes, we do.",
				IdempotencyKey: "k1",
			})
			require.Equal(t, map[string]string{"account": "shop-1", "to": "u1", "text": "Yes, we do.", "reply_to": ""}, got)
			require.Equal(t, "Bearer tok", auth)
			require.Equal(t, "k1", idem)
			if tc.class == "" {
				require.NoError(t, err)
				require.Equal(t, &sdk.SendResult{ExternalID: "out-1", Status: sdk.StatusSent}, res)
				return
			}
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.class, e.Class)
			require.Equal(t, tc.retryHint, e.RetryAfter)
		})
	}
}

func TestSendUnreachableIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	_, err := (&Relay{}).Send(context.Background(), &sdk.SendRequest{
		App: sdk.App{APIBaseURL: url}, Kind: sdk.SendDirect, RecipientID: "u1", Text: "x",
	})
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
	require.NotContains(t, err.Error(), url)
}
