package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neksio/neksio/internal/testenv"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// The WhatsApp number and secrets every server of the run uses.
const (
	waAppSecret   = "bench-app-secret"
	waVerifyToken = "bench-verify-token"
	waPhoneID     = "106540352242922"
	waToken       = "bench-wa-token"
)

// runEnv is what the benchmarks share: the built binary, the WhatsApp
// emulator, and cleanup of databases and processes.
type runEnv struct {
	cfg       Config
	bin       string
	tmp       string
	pgVersion string

	wa    *wasandbox.Server
	waSrv *httptest.Server
	// onSend is called for every message the emulator accepts.
	onSendMu sync.Mutex
	onSend   func(wasandbox.SentMessage)

	mu       sync.Mutex
	dbs      []string
	perBench []func()
}

func newRunEnv(ctx context.Context, cfg Config) (*runEnv, error) {
	tmp, err := os.MkdirTemp("", "neksio-bench-")
	if err != nil {
		return nil, err
	}
	e := &runEnv{cfg: cfg, tmp: tmp}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	conn, err := pgx.Connect(ctx, cfg.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL unreachable at %s: %w", cfg.AdminURL, err)
	}
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&e.pgVersion)
	conn.Close(ctx)
	if err != nil {
		return nil, err
	}
	e.bin = filepath.Join(tmp, "neksio")
	t0 := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/neksio")
	build.Dir = cfg.Root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/neksio: %w\n%s", err, out)
	}
	cfg.Log.Info("built neksio", "seconds", round3(time.Since(t0).Seconds()))

	e.wa = wasandbox.New(wasandbox.WithOnSend(func(m wasandbox.SentMessage) {
		e.onSendMu.Lock()
		f := e.onSend
		e.onSendMu.Unlock()
		if f != nil {
			f(m)
		}
	}))
	e.wa.AddNumber(waPhoneID, "15550783881", "Bench Coffee", waToken)
	e.waSrv = httptest.NewServer(e.wa.Handler())
	ok = true
	return e, nil
}

func (e *runEnv) setOnSend(f func(wasandbox.SentMessage)) {
	e.onSendMu.Lock()
	e.onSend = f
	e.onSendMu.Unlock()
}

// defer runs f when the current benchmark ends.
func (e *runEnv) deferBench(f func()) {
	e.mu.Lock()
	e.perBench = append(e.perBench, f)
	e.mu.Unlock()
}

func (e *runEnv) cleanupPerBench() {
	e.mu.Lock()
	fs := e.perBench
	e.perBench = nil
	e.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	e.setOnSend(nil)
}

func (e *runEnv) close() {
	e.cleanupPerBench()
	if e.waSrv != nil {
		e.waSrv.Close()
	}
	e.mu.Lock()
	dbs := e.dbs
	e.mu.Unlock()
	if len(dbs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, db := range dbs {
			_ = testenv.DropPostgresDB(ctx, e.cfg.AdminURL, db)
		}
	}
	_ = os.RemoveAll(e.tmp)
}

// newDB creates an empty database, dropped when the run ends.
func (e *runEnv) newDB(ctx context.Context) (string, error) {
	name, url, err := testenv.CreatePostgresDB(ctx, e.cfg.AdminURL, "neksio_bench_")
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.dbs = append(e.dbs, name)
	e.mu.Unlock()
	return url, nil
}

// neksioEnv is the environment of a neksio process on dbURL.
func (e *runEnv) neksioEnv(dbURL string, extra ...string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		// NEKSIO_PPROF_ADDR passes through: profile a benchmark's server.
		if !strings.HasPrefix(kv, "NEKSIO_") || strings.HasPrefix(kv, "NEKSIO_PPROF_ADDR=") {
			env = append(env, kv)
		}
	}
	return append(append(env,
		"NEKSIO_DATABASE_URL="+dbURL,
		"NEKSIO_MASTER_KEY="+masterKey,
		"NEKSIO_LOG_LEVEL=error",
		"NEKSIO_DEV=false",
		"NEKSIO_RATE_LIMIT=0",
		"NEKSIO_GRAPHQL_MAX_COMPLEXITY=100000",
		"NEKSIO_CONNECTORS=whatsapp",
		"NEKSIO_WHATSAPP_APP_SECRET="+waAppSecret,
		"NEKSIO_WHATSAPP_VERIFY_TOKEN="+waVerifyToken,
		"NEKSIO_WHATSAPP_API_BASE_URL="+e.waSrv.URL,
	), extra...)
}

var masterKey = func() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}()

// cli runs a neksio command and returns its stdout, trimmed.
func (e *runEnv) cli(ctx context.Context, dbURL string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.neksioEnv(dbURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("neksio %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// server is a running `neksio serve`.
type server struct {
	URL    string
	Key    string // the owner key of a first start, if any
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *tailBuffer
	client *http.Client
}

// startServer runs `neksio serve` on dbURL, waits until it is ready, and
// stops it when the current benchmark ends.
func (e *runEnv) startServer(ctx context.Context, dbURL string, extraEnv ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dataDir, err := os.MkdirTemp(e.tmp, "data-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(e.bin, "serve")
	cmd.Env = e.neksioEnv(dbURL, append([]string{"NEKSIO_ADDR=" + addr, "NEKSIO_DATA_DIR=" + dataDir}, extraEnv...)...)
	// Its own process group, so stopping it reaches the connector plugins.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := &server{URL: "http://" + addr, cmd: cmd, done: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10},
		client: &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	e.deferBench(s.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := s.client.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("neksio serve exited: %s", s.stderr.String())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("neksio serve not ready after 60s: %s", s.stderr.String())
		}
	}
	// A first start without a terminal leaves the owner key in the data dir.
	if key, err := os.ReadFile(filepath.Join(dataDir, "owner-api-key")); err == nil {
		s.Key = strings.TrimSpace(string(key))
	}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// gqlResult is a decoded GraphQL answer.
type gqlResult struct {
	Data map[string]any `json:"data"`
	gqlErrors
}

// gqlErrors are an answer's GraphQL errors.
type gqlErrors struct {
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (r *gqlErrors) err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		msgs[i] = e.Message
	}
	return errors.New(strings.Join(msgs, "; "))
}

// gql runs an operation with key and decodes the answer; GraphQL errors
// are returned as an error.
func (s *server) gql(ctx context.Context, key, query string, vars map[string]any) (map[string]any, error) {
	raw, err := s.gqlRaw(ctx, key, query, vars)
	if err != nil {
		return nil, err
	}
	var out gqlResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("graphql: %w: %s", err, raw)
	}
	return out.Data, out.err()
}

// gqlRaw posts an operation and returns the body of a 200 answer.
func (s *server) gqlRaw(ctx context.Context, key, query string, vars map[string]any) ([]byte, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var buf bytes.Buffer
	if err := s.post(ctx, s.URL+"/graphql", "Bearer "+key, body, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gqlCheck is a load loop's request: it posts one operation and checks
// the answer with checkGQL. The body is encoded once and each answer is
// read into a reused buffer: the load generator shares the machine's two
// cores with the server, and encoding the same request again and growing
// a new buffer for every answer took CPU from the server under test.
func (s *server) gqlCheck(key, query string, vars map[string]any) func(context.Context, int) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err) // the benchmarks' own operations and variables
	}
	url, auth := s.URL+"/graphql", "Bearer "+key
	return func(ctx context.Context, _ int) error {
		buf := answerBuffers.Get().(*bytes.Buffer)
		defer answerBuffers.Put(buf)
		buf.Reset()
		if err := s.post(ctx, url, auth, body, buf); err != nil {
			return err
		}
		return checkGQL(buf.Bytes(), nil)
	}
}

// post posts a JSON body to url with an Authorization header and reads
// the answer into buf; an answer other than 200 is an error.
func (s *server) post(ctx context.Context, url, auth string, body []byte, buf *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("graphql: HTTP %d: %s", resp.StatusCode, shorten(buf.String(), 300))
	}
	return nil
}

var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// webhook posts a signed WhatsApp delivery and returns the status code.
func (s *server) webhook(ctx context.Context, body []byte) (int, error) {
	req, err := wasandbox.NewWebhookRequest(ctx, s.URL+"/webhooks/whatsapp", waAppSecret, body)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// connectWhatsApp connects the emulator's number to the server's first
// workspace and returns the channel ID.
func (s *server) connectWhatsApp(ctx context.Context, aiMode string) (string, error) {
	data, err := s.gql(ctx, s.Key, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"connector": "whatsapp", "externalId": waPhoneID, "name": "Bench WhatsApp",
			"credentials": map[string]any{"accessToken": waToken}}})
	if err != nil {
		return "", fmt.Errorf("connectChannel: %w", err)
	}
	id, _ := dig(data, "connectChannel", "id").(string)
	if aiMode != "" {
		if _, err := s.gql(ctx, s.Key, `mutation($id: ID!, $in: UpdateChannelInput!) { updateChannel(id: $id, input: $in) { id } }`,
			map[string]any{"id": id, "in": map[string]any{"aiMode": aiMode}}); err != nil {
			return "", fmt.Errorf("updateChannel: %w", err)
		}
	}
	return id, nil
}

// rssBytes is a process's resident set size.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// dig walks decoded JSON by keys and indexes.
var dig = testenv.Dig

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
