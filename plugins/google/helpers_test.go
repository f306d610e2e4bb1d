package google_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

const (
	accountID    = "1"
	locationID   = "2"
	location     = "accounts/1/locations/2"
	audience     = "https://neksio.example.com/webhooks/google"
	clientID     = "neksio-client.apps.googleusercontent.com"
	clientSecret = "neksio-client-secret"
	redirectURI  = "https://neksio.example.com/oauth/google/callback"
)

// RSA keys are slow to generate: the sandboxes of this package share two.
var (
	keyOnce           sync.Once
	sandboxKey, rogue *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		sandboxKey, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		rogue, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
	})
	return sandboxKey, rogue
}

type bundle struct {
	sb    *sandbox.Server
	srv   *httptest.Server
	raw   sdk.Connector // the connector itself
	conn  sdk.Connector // the host's side of it, over gRPC
	app   sdk.App
	creds sdk.Credentials
	now   time.Time
}

// setup serves an emulator with one location, and connects to it the
// connector as the host would (over gRPC), with a frozen clock shared by
// both.
func setup(t *testing.T, opts ...sandbox.Option) *bundle {
	t.Helper()
	key, _ := keys(t)
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	sb := sandbox.New(append([]sandbox.Option{sandbox.WithClock(clock), sandbox.WithSigningKey(key),
		sandbox.WithClient(clientID, clientSecret)}, opts...)...)
	sb.AddAccount(accountID, "Cafe Group")
	sb.AddLocation(accountID, locationID, "Cafe Central")
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	raw := google.New(google.WithHTTPClient(srv.Client()), google.WithClock(clock))
	tok := sb.Grant()
	return &bundle{
		sb: sb, srv: srv, raw: raw, conn: sdktest.Connect(t, raw), now: now,
		app: sdk.App{APIBaseURL: srv.URL, ClientID: clientID, ClientSecret: clientSecret, Settings: map[string]string{
			google.SettingPubSubAudience:    audience,
			google.SettingPubSubAccount:     sandbox.DefaultServiceAccount,
			google.SettingAllowPrivateMedia: "true",
		}},
		creds: sdk.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresAt: tok.ExpiresAt},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// pushRequest is a push of data as the host hands it to HandleWebhook,
// with a token shaped by o.
func (b *bundle) pushRequest(t *testing.T, data []byte, o sandbox.PushOptions) *sdk.WebhookRequest {
	t.Helper()
	return b.pushBody(t, sandbox.Envelope(data, b.sb.NextMessageID(), b.now), o)
}

func (b *bundle) pushBody(t *testing.T, body []byte, o sandbox.PushOptions) *sdk.WebhookRequest {
	t.Helper()
	h := http.Header{}
	if !o.NoToken {
		tok, err := b.sb.Token(audience, o)
		require.NoError(t, err)
		h.Set("Authorization", "Bearer "+tok)
	}
	req := sdktest.Webhook(b.app, body, h)
	req.Path = "/webhooks/google"
	req.ReceivedAt = b.now
	return req
}

func (b *bundle) sync(t *testing.T, req *sdk.SyncRequest) *sdk.SyncResult {
	t.Helper()
	req.App, req.Credentials = b.app, b.creds
	if req.AccountID == "" {
		req.AccountID = location
	}
	res, err := b.conn.Sync(ctx(t), req)
	require.NoError(t, err)
	return res
}

func messages(res *sdk.SyncResult) []*sdk.Message {
	var out []*sdk.Message
	for _, ev := range res.Events {
		out = append(out, ev.Message)
	}
	return out
}

func errOf(t *testing.T, err error) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	return e
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
