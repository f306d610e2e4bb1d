package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
)

func TestViewerAndAuth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		data := e.gql(t, `{ viewer { role workspace { id name } } }`, nil)
		require.Equal(t, "OWNER", dig(data, "viewer", "role"))
		require.Equal(t, e.Workspace, dig(data, "viewer", "workspace", "id"))

		// The built-in connectors run as plugins and describe themselves.
		data = e.gql(t, `{ connectors { name version platforms capabilities healthy } }`, nil)
		byName := map[string]any{}
		for _, c := range dig(data, "connectors").([]any) {
			byName[dig(c, "name").(string)] = c
		}
		require.Equal(t, true, dig(byName["whatsapp"], "healthy"))
		require.Equal(t, []any{"whatsapp"}, dig(byName["whatsapp"], "platforms"))
		require.Equal(t, []any{"facebook", "instagram"}, dig(byName["meta"], "platforms"))
		require.Contains(t, dig(byName["meta"], "capabilities"), "private_reply")

		for _, key := range []string{"", "nks_bogus", "nks_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			r := e.gqlAs(t, key, `{ viewer { role } }`, nil)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Equal(t, "UNAUTHENTICATED", r.Code())
		}
	})
}

// Browser frontends on the configured origins get CORS; others do not.
func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(),
		withConfig(func(c *config.Config) {
			c.AllowedOrigins = []string{"https://app.example.com", "console.example.org"}
		}))
	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, e.URL+"/graphql", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	require.Equal(t, "https://app.example.com", ok.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "authorization")
	require.Empty(t, preflight("https://evil.example").Header.Get("Access-Control-Allow-Origin"))
	// Host-only patterns mean the same as for WebSockets (one matcher).
	require.Equal(t, "https://console.example.org", preflight("https://console.example.org").Header.Get("Access-Control-Allow-Origin"))

	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	require.NoError(t, err)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.Key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "https://app.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
}

// Each API key has its own rate limit; over it, HTTP 429 with RATE_LIMITED.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(),
		withConfig(func(c *config.Config) { c.RateLimit, c.RateBurst = 0.001, 3 }))
	other := dig(e.gql(t, `mutation { createAPIKey(input: {name: "other", role: AGENT}) { key } }`, nil), "createAPIKey", "key").(string)
	// The owner key spent one request above; two more pass, then it is limited.
	for i := 0; i < 2; i++ {
		require.Empty(t, e.gqlAs(t, e.Key, `{ viewer { role } }`, nil).Errors)
	}
	r := e.gqlAs(t, e.Key, `{ viewer { role } }`, nil)
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	require.Equal(t, "RATE_LIMITED", r.Code())
	// Another key is not affected.
	require.Empty(t, e.gqlAs(t, other, `{ viewer { role } }`, nil).Errors)
}

// Metrics label HTTP requests by the route they matched, and are not
// served on the public port.
func TestMetricsByRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	e.gql(t, `{ viewer { role } }`, nil)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(e.App.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	require.Contains(t, body, `neksio_http_requests_total{code="200",route="/graphql"}`)
	require.Contains(t, body, `neksio_graphql_requests_total{operation="anonymous",type="query"}`)

	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		resp, err := http.Get(e.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s on the public port", path)
	}
}
