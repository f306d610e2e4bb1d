package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/neksio/neksio/plugins/sdk"
)

// relayBin is plugins/examples/webhookrelay, built once for all tests.
var relayBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "neksio-connector-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	relayBin = filepath.Join(dir, "webhookrelay")
	build := exec.Command("go", "build", "-o", relayBin, "github.com/neksio/neksio/plugins/examples/webhookrelay")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build webhookrelay:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		// Every test closed its Manager: nothing may be left running.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			return 1
		}
	}
	return code
}

// installRelay puts the relay binary at path as a hard link. Writing a
// copy instead races with the parallel tests' plugin launches: a child
// forked while the copy's write descriptor is open holds it until it
// execs, and exec of the copy then fails with "text file busy" (ETXTBSY).
func installRelay(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.Link(relayBin, path))
}

type testBundle struct {
	mgr *Manager
	dir string
}

// setup installs the relay in a fresh plugin dir and starts a Manager on
// it, closed at test end.
func setup(t *testing.T, opts Options) *testBundle {
	t.Helper()
	dir := t.TempDir()
	installRelay(t, filepath.Join(dir, "relay-plugin"))
	// Not executable, not regular: both ignored.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.txt"), []byte("hi"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "subdir"), 0o755))

	opts.PluginDir = dir
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 50 * time.Millisecond
	}
	opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	mgr := New(opts)
	t.Cleanup(func() { require.NoError(t, mgr.Close()) })
	require.NoError(t, mgr.Start(context.Background()))
	return &testBundle{mgr: mgr, dir: dir}
}

// relayAPI is the relay's HTTP API: every POST /messages gets answer.
func relayAPI(t *testing.T, answer http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(answer)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestManagerLoadsPluginDir(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{})

	list := tb.mgr.List()
	require.Len(t, list, 1)
	require.Equal(t, Info{
		Name: "webhookrelay", Version: "0.1.0", Platforms: []string{"relay"},
		Capabilities: []sdk.Capability{sdk.CapWebhook, sdk.CapDirectMessage, sdk.CapMediaFetch},
		ConfigSchema: list[0].ConfigSchema, AccountIDLabel: "account", ProtocolMinor: sdk.ProtocolMinor,
		Healthy: true, Source: filepath.Join(tb.dir, "relay-plugin"),
	}, list[0])
	require.NotEmpty(t, list[0].ConfigSchema)

	_, err := tb.mgr.Get("nope")
	require.ErrorIs(t, err, ErrNotFound)
	var nf *NotFoundError
	require.ErrorAs(t, err, &nf)
	require.Equal(t, "nope", nf.Name)
}

func TestManagerCallsEveryMethod(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{})
	c, err := tb.mgr.Get("webhookrelay")
	require.NoError(t, err)
	ctx := context.Background()

	d, err := c.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "webhookrelay", d.Name)

	app := sdk.App{ClientSecret: "relay-secret"}
	body := []byte(`{"account":"shop-1","messages":[{"id":"m1","from":"u1","name":"Ada","text":"hello","timestamp":1767225600}]}`)
	signed := func(body []byte) *sdk.WebhookRequest {
		return &sdk.WebhookRequest{
			App: app, Method: "POST", Body: body,
			Header: map[string][]string{"X-Relay-Signature": {sdk.HMACSHA256Hex([]byte(app.ClientSecret), body)}},
		}
	}
	res, err := c.HandleWebhook(ctx, signed(body))
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	require.Equal(t, "hello", res.Events[0].Message.Text)
	require.Equal(t, time.Unix(1767225600, 0).UTC(), res.Events[0].Message.Timestamp)

	_, err = c.HandleWebhook(ctx, &sdk.WebhookRequest{App: app, Body: body})
	requireClass(t, sdk.ClassUnauthenticated, err)
	_, err = c.HandleWebhook(ctx, signed([]byte("{")))
	requireClass(t, sdk.ClassMalformed, err)

	answers := map[string]http.HandlerFunc{
		"ok": func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"id":"out-1"}`) },
		"429": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "9")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		"401": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
		"422": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnprocessableEntity) },
	}
	send := func(answer string) (*sdk.SendResult, error) {
		return c.Send(ctx, &sdk.SendRequest{
			App: sdk.App{APIBaseURL: relayAPI(t, answers[answer])}, Kind: sdk.SendDirect, RecipientID: "u1", Text: "hi",
		})
	}
	sr, err := send("ok")
	require.NoError(t, err)
	require.Equal(t, &sdk.SendResult{ExternalID: "out-1", Status: sdk.StatusSent}, sr)

	_, err = send("429")
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, &sdk.Error{Class: sdk.ClassRetryable, Code: "429", Message: e.Message, RetryAfter: 9 * time.Second}, e)
	_, err = send("401")
	requireClass(t, sdk.ClassAuthRevoked, err)
	_, err = send("422")
	requireClass(t, sdk.ClassPermanent, err)
	_, err = c.Send(ctx, &sdk.SendRequest{Kind: sdk.SendReviewReply})
	requireClass(t, sdk.ClassUnsupported, err)

	// The surfaces the relay does not offer answer ClassUnsupported.
	_, err = c.VerifySubscription(ctx, &sdk.VerifyRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	_, err = c.Publish(ctx, &sdk.PublishRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	_, err = c.PublishStatus(ctx, &sdk.PublishStatusRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	_, err = c.Sync(ctx, &sdk.SyncRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	_, err = c.ValidateCredentials(ctx, &sdk.CredentialsRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	_, err = c.RefreshCredentials(ctx, &sdk.CredentialsRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	requireClass(t, sdk.ClassUnsupported, c.Revoke(ctx, &sdk.CredentialsRequest{}))
	// So do the protocol 1.1 calls it does not implement.
	_, err = c.(sdk.Authorizer).AuthorizeURL(ctx, &sdk.AuthorizeRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	_, err = c.(sdk.Lookuper).LookupContact(ctx, &sdk.LookupRequest{})
	requireClass(t, sdk.ClassUnsupported, err)
	requireClass(t, sdk.ClassUnsupported, c.(sdk.Deleter).Delete(ctx, &sdk.DeleteRequest{}))
}

// FetchMedia streams through the plugin process, outlives the call that
// opened it, and keeps to the host's size limit.
func TestManagerFetchMedia(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{CallTimeout: 5 * time.Second})
	c, err := tb.mgr.Get("webhookrelay")
	require.NoError(t, err)
	media := make([]byte, 1<<20+3)
	for i := range media {
		media[i] = byte(i * 7)
	}
	base := relayAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/media/img-1" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(media)
	})
	fetch := func(id string, max int64) ([]byte, error) {
		mc, err := c.(sdk.MediaFetcher).FetchMedia(context.Background(), &sdk.FetchMediaRequest{
			App: sdk.App{APIBaseURL: base}, Credentials: sdk.Credentials{AccessToken: "tok"},
			Attachment: sdk.Attachment{ExternalID: id}, MaxBytes: max,
		})
		if err != nil {
			return nil, err
		}
		defer mc.Body.Close()
		require.Equal(t, "image/png", mc.MimeType)
		return io.ReadAll(mc.Body)
	}
	got, err := fetch("img-1", 2<<20)
	require.NoError(t, err)
	require.Equal(t, media, got)

	_, err = fetch("img-1", 1000)
	requireClass(t, sdk.ClassPermanent, err)
	_, err = fetch("missing", 2<<20)
	requireClass(t, sdk.ClassPermanent, err)
}

func TestManagerRestartsDeadPlugin(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{})
	c, err := tb.mgr.Get("webhookrelay")
	require.NoError(t, err)
	p := tb.mgr.plugins["webhookrelay"]
	pid := p.pid()
	require.NotZero(t, pid)

	// A send the relay API holds until the plugin is dead.
	arrived := make(chan struct{})
	url := relayAPI(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		hold(r)
	})
	inflight := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), &sdk.SendRequest{App: sdk.App{APIBaseURL: url}, Kind: sdk.SendDirect, RecipientID: "u1", Text: "x"})
		inflight <- err
	}()
	<-arrived
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	requireClass(t, sdk.ClassRetryable, <-inflight)

	// It comes back as a new process, and calls succeed again.
	require.Eventually(t, func() bool {
		_, err := c.Describe(context.Background())
		if err != nil {
			requireClass(t, sdk.ClassRetryable, err)
		}
		return err == nil
	}, 20*time.Second, 20*time.Millisecond)
	require.NotEqual(t, pid, p.pid())
	require.True(t, tb.mgr.List()[0].Healthy)
	require.Equal(t, 1, tb.mgr.List()[0].Restarts)
	requireConnectorMetrics(t, tb.mgr, true, 1)
}

// requireConnectorMetrics checks the relay's series on the manager's
// collector.
func requireConnectorMetrics(t *testing.T, m *Manager, up bool, restarts int) {
	t.Helper()
	upValue := 0
	if up {
		upValue = 1
	}
	require.NoError(t, testutil.CollectAndCompare(m.Collector(), strings.NewReader(fmt.Sprintf(`
# HELP neksio_connector_restarts_total Times the connector's plugin was brought back after it died or failed its health check.
# TYPE neksio_connector_restarts_total counter
neksio_connector_restarts_total{connector="webhookrelay"} %d
# HELP neksio_connector_up 1 while the connector's plugin process is running and healthy, 0 while it is down or restarting.
# TYPE neksio_connector_up gauge
neksio_connector_up{connector="webhookrelay"} %d
`, restarts, upValue))))
}

func TestManagerHealthCheckDetectsDeath(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{})
	p := tb.mgr.plugins["webhookrelay"]
	pid := p.pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	// No call is made: the health check alone must notice and restart.
	require.Eventually(t, func() bool {
		np := p.pid()
		return np != 0 && np != pid && tb.mgr.List()[0].Healthy
	}, 20*time.Second, 5*time.Millisecond)
}

// While a dead plugin waits for its restart, the metrics say it is down
// and not yet restarted.
func TestManagerCollectorReportsADownPlugin(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	p := tb.mgr.plugins["webhookrelay"]
	requireConnectorMetrics(t, tb.mgr, true, 0)
	require.NoError(t, syscall.Kill(p.pid(), syscall.SIGKILL))
	require.Eventually(t, func() bool { return !tb.mgr.List()[0].Healthy }, 20*time.Second, 5*time.Millisecond)
	requireConnectorMetrics(t, tb.mgr, false, 0)
}

func TestManagerCallTimeout(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{CallTimeout: 300 * time.Millisecond})
	c, err := tb.mgr.Get("webhookrelay")
	require.NoError(t, err)
	url := relayAPI(t, func(w http.ResponseWriter, r *http.Request) { hold(r) })
	_, err = c.Send(context.Background(), &sdk.SendRequest{App: sdk.App{APIBaseURL: url}, Kind: sdk.SendDirect, RecipientID: "u1"})
	requireClass(t, sdk.ClassRetryable, err)
	// Either side may notice the deadline first: the host ("timed out") or
	// the plugin, whose context carries the same deadline.
	require.Regexp(t, "timed out|deadline exceeded", err.Error())
	// The plugin is fine: the next call answers.
	_, err = c.Describe(context.Background())
	require.NoError(t, err)
}

func TestManagerRegisteredBuiltin(t *testing.T) {
	t.Parallel()
	mgr := New(Options{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	t.Cleanup(func() { require.NoError(t, mgr.Close()) })
	require.NoError(t, mgr.Register("webhookrelay", func() *exec.Cmd { return exec.Command(relayBin) }))
	// Registered under a name the plugin does not answer to: refused.
	require.NoError(t, mgr.Register("impostor", func() *exec.Cmd { return exec.Command(relayBin) }))
	require.Error(t, mgr.Register("impostor", func() *exec.Cmd { return exec.Command(relayBin) }))

	err := mgr.Start(context.Background())
	require.ErrorContains(t, err, `registered as "impostor"`)
	require.Error(t, mgr.Register("late", func() *exec.Cmd { return exec.Command(relayBin) }))

	list := mgr.List()
	require.Len(t, list, 2)
	require.Equal(t, "impostor", list[0].Name)
	require.False(t, list[0].Healthy)
	require.Equal(t, "webhookrelay", list[1].Name)
	require.True(t, list[1].Healthy)
	require.Equal(t, "builtin", list[1].Source)

	bad, err := mgr.Get("impostor")
	require.NoError(t, err)
	_, err = bad.Describe(context.Background())
	requireClass(t, sdk.ClassRetryable, err)

	good, err := mgr.Get("webhookrelay")
	require.NoError(t, err)
	_, err = good.Describe(context.Background())
	require.NoError(t, err)
}

func TestManagerDuplicateNameInPluginDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	installRelay(t, filepath.Join(dir, "a"))
	installRelay(t, filepath.Join(dir, "b"))
	mgr := New(Options{PluginDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { require.NoError(t, mgr.Close()) })

	err := mgr.Start(context.Background())
	require.ErrorContains(t, err, "already taken")
	list := mgr.List()
	require.Len(t, list, 1)
	require.Equal(t, filepath.Join(dir, "a"), list[0].Source)
}

func TestManagerMissingPluginDir(t *testing.T) {
	t.Parallel()
	mgr := New(Options{PluginDir: filepath.Join(t.TempDir(), "missing")})
	t.Cleanup(func() { require.NoError(t, mgr.Close()) })
	err := mgr.Start(context.Background())
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Empty(t, mgr.List())
}

func TestPluginEnvDropsNeksioSettings(t *testing.T) {
	t.Setenv("NEKSIO_MASTER_KEY", "secret")
	t.Setenv("NEKSIO_TEST_OTHER", "x")
	for _, kv := range pluginEnv() {
		require.NotContains(t, kv, "NEKSIO_")
	}
	require.NotEmpty(t, pluginEnv())
}

// hold blocks until the client goes away. The body is drained first: the
// server only notices a closed connection once it reads past the body.
func hold(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func requireClass(t *testing.T, want sdk.ErrorClass, err error) {
	t.Helper()
	require.Error(t, err)
	var e *sdk.Error
	require.True(t, errors.As(err, &e), "want *sdk.Error, got %T: %v", err, err)
	require.Equal(t, want, e.Class, "error: %v", err)
}
