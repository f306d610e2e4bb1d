package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	gsandbox "github.com/neksio/neksio/plugins/google/sandbox"
)

const (
	testGoogleAccount  = "1"
	testGoogleLocation = "accounts/1/locations/2"
	testGoogleClientID = "google-client"
	testGoogleSecret   = "google-secret"
	// testGoogleAudience is the push subscription's audience (Google's
	// default is the endpoint URL; any string the operator chooses works).
	testGoogleAudience = "https://neksio.test/webhooks/google"
	testGoogleSA       = "push@acme-project.iam.gserviceaccount.com"
)

// RSA keys are slow to generate: every emulator signs with the same one,
// and forged pushes use the other.
var (
	googleKey      = sync.OnceValue(func() *rsa.PrivateKey { return rsaKey() })
	googleRogueKey = sync.OnceValue(func() *rsa.PrivateKey { return rsaKey() })
)

func rsaKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// googleEnv is a running Neksio with the google connector, the Business
// Profile emulator and one connected location.
type googleEnv struct {
	*env
	G *gsandbox.Server
	// GURL is the emulator's base URL (NEKSIO_GOOGLE_API_BASE_URL).
	GURL    string
	Channel string
	Tokens  gsandbox.Tokens
	// apiLog records the API calls the emulator served (method and URL).
	mu     sync.Mutex
	apiLog []*http.Request
	// intercept may answer a request instead of the emulator.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

type googleEnvConfig struct {
	noConnect   bool
	reviewAgent bool
	options     []gsandbox.Option
	serve       func(mux *http.ServeMux, neksioURL string) *gsandbox.Server
	environ     []string
}

type googleOption func(*googleEnvConfig)

// withoutGoogleChannel leaves the location unconnected.
func withoutGoogleChannel() googleOption { return func(c *googleEnvConfig) { c.noConnect = true } }

// withReviewAgent leaves the agent on for reviews (the default review
// policy, DRAFT); other tests switch it off so the threads hold only what
// they test.
func withReviewAgent() googleOption { return func(c *googleEnvConfig) { c.reviewAgent = true } }

// withGoogleEnviron adds NEKSIO_* settings.
func withGoogleEnviron(kv ...string) googleOption {
	return func(c *googleEnvConfig) { c.environ = append(c.environ, kv...) }
}

// withGoogleServe builds the emulator's routes itself (the sandbox command
// does), once the server's URL is known.
func withGoogleServe(f func(mux *http.ServeMux, neksioURL string) *gsandbox.Server) googleOption {
	return func(c *googleEnvConfig) { c.serve = f }
}

func newGoogleEnv(t *testing.T, d storetest.Dialect, opts ...googleOption) *googleEnv {
	t.Helper()
	var gc googleEnvConfig
	for _, o := range opts {
		o(&gc)
	}
	g := &googleEnv{}
	// The emulator's routes are installed once Neksio's URL is known.
	var handler http.Handler
	gsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.apiLog = append(g.apiLog, r.Clone(context.Background()))
		intercept := g.intercept
		g.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(gsrv.Close)
	g.GURL = gsrv.URL
	base := gsrv.URL
	if gc.serve != nil {
		base += "/google"
	}
	environ := append([]string{
		"NEKSIO_GOOGLE_API_BASE_URL=" + base,
		"NEKSIO_GOOGLE_CLIENT_ID=" + testGoogleClientID,
		"NEKSIO_GOOGLE_CLIENT_SECRET=" + testGoogleSecret,
		"NEKSIO_GOOGLE_PUBSUB_AUDIENCE=" + testGoogleAudience,
		"NEKSIO_GOOGLE_PUBSUB_SERVICE_ACCOUNT=" + testGoogleSA,
		// Tests make a few calls at once; the quota's spacing has its own test.
		"NEKSIO_GOOGLE_REQUESTS_PER_MINUTE=0",
	}, gc.environ...)
	g.env = newEnv(t, d, withoutWhatsAppChannel(), withEnviron(environ...), withConfig(func(c *config.Config) {
		c.Connectors = []string{"whatsapp", "meta", "google"}
	}))
	if gc.serve != nil {
		mux := http.NewServeMux()
		g.G = gc.serve(mux, g.URL)
		handler = mux
		g.GURL = base
	} else {
		g.G = gsandbox.New(append([]gsandbox.Option{gsandbox.WithSigningKey(googleKey()),
			gsandbox.WithClient(testGoogleClientID, testGoogleSecret)}, gc.options...)...)
		handler = g.G
		// Review changes made through the emulator push to the server.
		g.G.SetPushTarget(gsandbox.PushTarget{URL: g.URL + "/webhooks/google",
			Options: gsandbox.PushOptions{Audience: testGoogleAudience, ServiceAccount: testGoogleSA}})
	}
	g.G.AddLocation(testGoogleAccount, "2", "Acme Cafe")
	if !gc.reviewAgent {
		g.gql(t, `mutation { updateAgentSettings(input: {reviewPolicy: {oneStar: OFF, twoStars: OFF, threeStars: OFF, fourStars: OFF, fiveStars: OFF}}) { id } }`, nil)
	}
	if !gc.noConnect {
		g.connect(t)
	}
	// Reviews a test writes at Google are then stored only by what the
	// test does (a push, a sync it asks for), not by the start's sync.
	g.waitStartupSync(t)
	return g
}

// connect connects the location with fresh tokens and waits for the
// backfill that follows.
func (g *googleEnv) connect(t *testing.T) {
	t.Helper()
	g.Tokens = g.G.Grant(testGoogleAccount)
	data := g.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id status platform } }`,
		map[string]any{"in": map[string]any{"connector": "google", "externalId": testGoogleLocation, "name": "Acme Cafe",
			"credentials": map[string]any{"accessToken": g.Tokens.AccessToken, "refreshToken": g.Tokens.RefreshToken,
				"expiresAt": g.Tokens.ExpiresAt.UTC().Format(time.RFC3339)}}})
	require.Equal(t, "google", dig(data, "connectChannel", "platform"))
	require.Equal(t, "ACTIVE", dig(data, "connectChannel", "status"))
	g.Channel = dig(data, "connectChannel", "id").(string)
	g.waitJobs(t)
}

// review writes a review at Google (without pushing it).
func (g *googleEnv) review(reviewer string, stars int, text string) gsandbox.Review {
	return g.G.CreateReview(testGoogleAccount, "2", gsandbox.NewReview{Reviewer: reviewer, Stars: stars, Text: text})
}

// pushData POSTs a notification's data as Pub/Sub does; o's zero value is
// a valid push. It returns the status.
func (g *googleEnv) pushData(t *testing.T, data []byte, o gsandbox.PushOptions) int {
	t.Helper()
	return g.pushBody(t, gsandbox.Envelope(data, g.G.NextMessageID(), time.Now()), o)
}

// push notifies a review change.
func (g *googleEnv) push(t *testing.T, typ, review string) int {
	t.Helper()
	return g.pushData(t, gsandbox.Notification(typ, review), gsandbox.PushOptions{})
}

// pushBody POSTs an exact body (a redelivery, a malformed envelope).
func (g *googleEnv) pushBody(t *testing.T, body []byte, o gsandbox.PushOptions) int {
	t.Helper()
	if o.Audience == "" {
		o.Audience = testGoogleAudience
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = testGoogleSA
	}
	resp, err := g.G.PushBody(context.Background(), g.client, g.URL+"/webhooks/google", body, o)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// requests returns the emulator requests whose path ends as suffix was
// asked for, in order.
func (g *googleEnv) requests(match func(r *http.Request) bool) []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*http.Request
	for _, r := range g.apiLog {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// setIntercept installs (or with nil removes) a handler that may answer
// emulator requests first.
func (g *googleEnv) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.intercept = f
}

// droppedEvents is the google value of neksio_webhook_dropped_events_total.
func (g *googleEnv) droppedEvents(t *testing.T) float64 {
	t.Helper()
	mfs, err := g.App.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "neksio_webhook_dropped_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "connector" && lp.GetValue() == "google" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// reviewConversation is what the API says of the conversation of review.
func (g *googleEnv) reviewConversation(t *testing.T, review string) map[string]any {
	t.Helper()
	data := g.gql(t, `query($w: ConversationWhereInput) { conversations(first: 2, where: $w) { totalCount edges { node {
		id kind rating status handoffReason sentimentLabel contact { name externalID avatarURL }
		messages(first: 20, orderBy: {field: SENT_AT, direction: ASC}) { edges { node {
			id text direction type rating externalID editedAt deletedAt replacedAt replacedByID deliveryStatus authorKind sentimentLabel } } } } } } }`,
		map[string]any{"w": map[string]any{"threadID": review}})
	require.EqualValues(t, 1, dig(data, "conversations", "totalCount"), "one conversation for review %s", review)
	return dig(data, "conversations", "edges", 0, "node").(map[string]any)
}

// messagesOf lists a conversation's messages (from reviewConversation).
func messagesOf(conv map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range dig(conv, "messages", "edges").([]any) {
		out = append(out, dig(e, "node").(map[string]any))
	}
	return out
}

// countRows counts a table's rows.
func (g *googleEnv) countRows(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, g.App.Store.DB.QueryRow(`SELECT count(*) FROM `+table).Scan(&n))
	return n
}
