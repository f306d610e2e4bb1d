package tiktok_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

const (
	clientKey    = "test-client-key"
	clientSecret = "test-client-secret"
	// business and customer are the fixtures' accounts.
	business = "0b7c2f1e-5d7a-4a8e-9c3b-b1d2e3f4a5b6"
	customer = "7a1e9d2c-3b4f-4e5a-8d6c-c7b8a9f0e1d2"
	convID   = "0:1:7a1e9d2c3b4f:0b7c2f1e5d7a+ZQ"
)

// receivedAt is when fixtures arrive: their create_time.
var receivedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func testApp() sdk.App {
	return sdk.App{ClientSecret: clientSecret, Settings: map[string]string{tiktok.SettingClientKey: clientKey}}
}

// signedAt is a delivery of body signed at t, received at receivedAt.
func signedAt(body []byte, t time.Time) *sdk.WebhookRequest {
	return &sdk.WebhookRequest{
		App:        testApp(),
		Method:     "POST",
		Path:       "/webhooks/tiktok",
		Header:     map[string][]string{"Tiktok-Signature": {sdk.TikTokSignature(clientSecret, t, body)}, "Content-Type": {"application/json"}},
		Body:       body,
		ReceivedAt: receivedAt,
	}
}

func signedRequest(body []byte) *sdk.WebhookRequest { return signedAt(body, receivedAt) }

// deliver hands body to the connector through real gRPC, as the host
// does, and returns the events.
func deliver(t *testing.T, body []byte) []*sdk.Event {
	t.Helper()
	res, err := sdktest.Connect(t, tiktok.New()).HandleWebhook(context.Background(), signedRequest(body))
	require.NoError(t, err)
	require.NotNil(t, res)
	return res.Events
}

// bundle is a connector pointed at a fresh emulator holding one business
// account, with its tokens.
type bundle struct {
	sb     *sandbox.Server
	srv    *httptest.Server
	conn   sdk.Connector
	app    sdk.App
	tokens sandbox.Tokens
	now    time.Time
	clock  *clock
}

// clock is a settable clock shared by the emulator and the connector.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T, opts ...sandbox.Option) *bundle {
	t.Helper()
	// The wall clock, frozen: webhook builders stamp the current time.
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	// Tokens outlive the windows the tests step over; refreshing is
	// tested on its own.
	sb := sandbox.New(append([]sandbox.Option{sandbox.WithClock(clk.now), sandbox.WithApp(clientKey, clientSecret),
		sandbox.WithTokenTTL(30*24*time.Hour, 365*24*time.Hour)}, opts...)...)
	sb.AddAccount(sandbox.Account{OpenID: business, UnionID: "union-1", DisplayName: "Lisbon Coffee", Username: "lisboncoffee",
		AvatarURL: "https://p16.tiktokcdn.example/avatar.jpeg"})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	conn := sdktest.Connect(t, tiktok.New(tiktok.WithHTTPClient(srv.Client()), tiktok.WithClock(clk.now)))
	app := sdk.App{APIBaseURL: srv.URL, ClientSecret: clientSecret, Settings: map[string]string{
		tiktok.SettingClientKey:          clientKey,
		tiktok.SettingBusinessAPIBaseURL: srv.URL + "/open_api/v1.3",
		tiktok.SettingAuthURL:            srv.URL + "/v2/auth/authorize/",
		tiktok.SettingAllowPrivateMedia:  "true",
	}}
	return &bundle{sb: sb, srv: srv, conn: conn, app: app, tokens: sb.Grant(business), now: clk.now(), clock: clk}
}

func (b *bundle) creds() sdk.Credentials {
	return sdk.Credentials{AccessToken: b.tokens.AccessToken, RefreshToken: b.tokens.RefreshToken, Scopes: b.tokens.Scopes}
}

func (b *bundle) audited() *bundle {
	b.app.Settings[tiktok.SettingAudited] = "true"
	return b
}

func background(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
