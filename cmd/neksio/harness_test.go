package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/internal/testenv"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// TestMain lets the test binary serve the built-in connectors: the
// connector manager launches os.Executable() with `connector serve NAME`,
// exactly as `neksio serve` launches itself.
func TestMain(m *testing.M) {
	// ... and as `neksio serve`, for tests that need a second process.
	if (len(os.Args) >= 3 && os.Args[1] == "connector" && os.Args[2] == "serve") || (len(os.Args) >= 2 && os.Args[1] == "serve") {
		os.Exit(execute(os.Args[1:]))
	}
	os.Exit(m.Run())
}

const (
	testWAAppSecret   = "wa-app-secret"
	testWAVerifyToken = "wa-verify-token"
	testWAPhoneID     = "106540352242922"
	testWAToken       = "wa-token-1"
	testMetaSecret    = "meta-app-secret"
	testMetaVerify    = "meta-verify-token"
)

// env is a running Neksio (the full App on an httptest server, real
// connector plugins) with platform emulators and one workspace.
// testMasterKey is every test server's master key: replicas of one
// database must share theirs, as in production.
var testMasterKey = func() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}()

type env struct {
	t         testing.TB
	App       *App
	URL       string
	Key       string
	Workspace string
	WhatsApp  *wasandbox.Server
	// WhatsAppURL is the emulator's base URL.
	WhatsAppURL string
	Meta        *metasandbox.Server
	// MetaURL is the Meta emulator's base URL.
	MetaURL string
	// WAChannel is the ID of the connected WhatsApp channel.
	WAChannel string
	client    *http.Client
}

type envConfig struct {
	waOptions    []wasandbox.Option
	dbURL        string // shared Postgres database (two replicas)
	configure    []func(*config.Config)
	noWAChannel  bool
	extraEnviron []string
	logTo        io.Writer
}

type envOption func(*envConfig)

// withWhatsAppSandbox configures the WhatsApp emulator.
func withWhatsAppSandbox(opts ...wasandbox.Option) envOption {
	return func(c *envConfig) { c.waOptions = append(c.waOptions, opts...) }
}

// withDatabaseURL runs on an existing database (another env's).
func withDatabaseURL(url string) envOption { return func(c *envConfig) { c.dbURL = url } }

// withConfig adjusts the configuration before the App is built (each in
// turn, when given several).
func withConfig(f func(*config.Config)) envOption {
	return func(c *envConfig) { c.configure = append(c.configure, f) }
}

// withLogOutput sends the App's logs (debug and up) to w.
func withLogOutput(w io.Writer) envOption { return func(c *envConfig) { c.logTo = w } }

// withoutWhatsAppChannel skips connecting the WhatsApp number.
func withoutWhatsAppChannel() envOption { return func(c *envConfig) { c.noWAChannel = true } }

// withEnviron adds NEKSIO_* variables for the connectors.
func withEnviron(kv ...string) envOption {
	return func(c *envConfig) { c.extraEnviron = append(c.extraEnviron, kv...) }
}

func newEnv(t testing.TB, d storetest.Dialect, opts ...envOption) *env {
	t.Helper()
	var ec envConfig
	for _, o := range opts {
		o(&ec)
	}
	ctx := context.Background()

	wa := wasandbox.New(ec.waOptions...)
	wa.AddNumber(testWAPhoneID, "15550783881", "Acme Coffee", testWAToken)
	waSrv := httptest.NewServer(wa.Handler())
	t.Cleanup(waSrv.Close)
	meta := metasandbox.New(metasandbox.WithAppSecret(testMetaSecret))
	metaSrv := httptest.NewServer(meta)
	t.Cleanup(metaSrv.Close)

	// The defaults of a real server (config.Default), with the test's own
	// data dir, key, connectors and platform emulators.
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "warn"
	cfg.MasterKey = testMasterKey
	cfg.Connectors = []string{"whatsapp", "meta"}
	cfg.PluginTimeout = 20 * time.Second
	cfg.RateLimit = 10000
	cfg.RateBurst = 10000
	cfg.Environ = append([]string{
		"NEKSIO_WHATSAPP_APP_SECRET=" + testWAAppSecret,
		"NEKSIO_WHATSAPP_VERIFY_TOKEN=" + testWAVerifyToken,
		"NEKSIO_WHATSAPP_API_BASE_URL=" + waSrv.URL,
		"NEKSIO_META_APP_SECRET=" + testMetaSecret,
		"NEKSIO_META_VERIFY_TOKEN=" + testMetaVerify,
		"NEKSIO_META_API_BASE_URL=" + metaSrv.URL,
		"NEKSIO_META_ALLOW_PRIVATE_MEDIA_URLS=true",
		"NEKSIO_WHATSAPP_ALLOW_PRIVATE_MEDIA_URLS=true",
	}, ec.extraEnviron...)
	dev := true
	cfg.Dev = &dev
	// The server's address is known before it is built: it is the public
	// URL platforms redirect browsers back to and fetch media from (a test
	// may set another with withPublicURL).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.PublicURL = "http://" + ln.Addr().String()
	switch {
	case ec.dbURL != "":
		cfg.DatabaseURL = ec.dbURL
	case d == storetest.Postgres:
		cfg.DatabaseURL = storetest.NewPostgresDB(t)
	}
	for _, f := range ec.configure {
		f(cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if ec.logTo != nil {
		log = slog.New(slog.NewTextHandler(ec.logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else if os.Getenv("NEKSIO_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	app, err := newApp(ctx, cfg, log)
	require.NoError(t, err)
	t.Cleanup(app.Close)
	require.NoError(t, app.Start(ctx))
	srv := httptest.NewUnstartedServer(app.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	configureHTTPServer(srv.Config, cfg)
	srv.Start()
	t.Cleanup(srv.Close)

	e := &env{t: t, App: app, URL: srv.URL, WhatsApp: wa, WhatsAppURL: waSrv.URL, Meta: meta, MetaURL: metaSrv.URL, client: srv.Client()}
	e.Workspace, e.Key = e.newWorkspace(t, "Acme Coffee")
	if !ec.noWAChannel {
		data := e.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id status platform } }`,
			map[string]any{"in": map[string]any{
				"connector": "whatsapp", "externalId": testWAPhoneID, "name": "Acme WhatsApp",
				"credentials": map[string]any{"accessToken": testWAToken},
			}})
		e.WAChannel = dig(data, "connectChannel", "id").(string)
	}
	return e
}

// newWorkspace creates another workspace with an owner key.
func (e *env) newWorkspace(t testing.TB, name string) (id, key string) {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Create(ctx, e.App.Store, name)
	require.NoError(t, err)
	key, _, err = e.App.Auth.CreateKeyForWorkspace(ctx, string(ws.ID), "test", tenant.RoleOwner)
	require.NoError(t, err)
	return string(ws.ID), key
}

// gqlResponse is a raw GraphQL answer.
type gqlResponse struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
}

// Code returns the first error's extensions.code.
func (r gqlResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// gqlAs runs an operation with key and returns the raw answer.
func (e *env) gqlAs(t testing.TB, key, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	out.Status = resp.StatusCode
	return out
}

// gql runs an operation with the owner key and fails on any error.
func (e *env) gql(t testing.TB, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := e.gqlAs(t, e.Key, query, vars)
	require.Empty(t, r.Errors, "graphql errors for %s", query)
	return r.Data
}

// postWebhook posts a raw body to path with the given headers.
func (e *env) postWebhook(t testing.TB, path string, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// whatsappWebhook posts a correctly signed WhatsApp delivery and returns the status.
func (e *env) whatsappWebhook(t testing.TB, body []byte) int {
	t.Helper()
	code, _ := e.postWebhook(t, "/webhooks/whatsapp", body,
		map[string]string{"X-Hub-Signature-256": wasandbox.Sign(testWAAppSecret, body)})
	return code
}

// whatsappText delivers a text message from a customer and requires 200.
func (e *env) whatsappText(t testing.TB, from, text string) []byte {
	t.Helper()
	body := wasandbox.TextMessage(testWAPhoneID, from, "Customer "+from, text)
	require.Equal(t, http.StatusOK, e.whatsappWebhook(t, body))
	return body
}

// waitJobs waits until River has no job left to run (available, running,
// retryable or scheduled within the next seconds).
func (e *env) waitJobs(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := e.App.Store.DB.QueryRow(`SELECT count(*) FROM river_job WHERE state IN ('available','running','pending')`).Scan(&n)
		return err == nil && n == 0
	}, 60*time.Second, 20*time.Millisecond)
}

// waitStartupSync waits until the channel sync that every worker process
// schedules on start (jobs.PeriodicJobs, RunOnStart) has run, and the
// per-channel passes it queued with it: River inserts it once its client
// is elected leader, which may come after a test has connected a channel
// and written at the platform, and the pass would then import what the
// test wrote. The next sync is ten minutes later.
func (e *env) waitStartupSync(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := e.App.Store.DB.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'channel.sync' AND state = 'completed'`).Scan(&n)
		return err == nil && n > 0
	}, 60*time.Second, 20*time.Millisecond)
	e.waitJobs(t)
}

// dig walks a decoded JSON value by keys (and int indexes).
var dig = testenv.Dig
