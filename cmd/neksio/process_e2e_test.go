package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serveProc is `neksio serve` running as its own process (this test
// binary, see TestMain), on SQLite in a fresh data dir.
type serveProc struct {
	cmd     *exec.Cmd
	addr    string
	dataDir string
	done    chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `neksio serve` with env added to a minimal environment
// and waits until it is ready.
func startServe(t *testing.T, env ...string) *serveProc {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	p := &serveProc{addr: freeAddr(t), dataDir: t.TempDir(), done: make(chan struct{})}
	p.cmd = exec.Command(self, "serve")
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"NEKSIO_ADDR=" + p.addr, "NEKSIO_DATA_DIR=" + p.dataDir, "NEKSIO_LOG_LEVEL=warn",
		"NEKSIO_METRICS_ADDR=off", "NEKSIO_MASTER_KEY=" + testMasterKey}, env...)
	if os.Getenv("NEKSIO_TEST_LOG") != "" {
		p.cmd.Stderr = os.Stderr
	}
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	require.Eventually(t, func() bool {
		select {
		case <-p.done:
			t.Fatalf("neksio serve exited: %v", p.cmd.ProcessState)
		default:
		}
		return httpStatus("http://"+p.addr+"/readyz") == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond)
	return p
}

// httpStatus is the status of a GET, 0 when it fails.
func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	return string(b)
}

// Metrics and the profiler answer on NEKSIO_METRICS_ADDR, not on the API
// port.
func TestMetricsOnPrivateListener(t *testing.T) {
	t.Parallel()
	metrics := freeAddr(t)
	p := startServe(t, "NEKSIO_METRICS_ADDR="+metrics)
	require.Equal(t, http.StatusOK, httpStatus("http://"+p.addr+"/healthz"))
	body := httpBody(t, "http://"+metrics+"/metrics")
	require.True(t, strings.Contains(body, `neksio_http_requests_total{code="200",route="GET /readyz"}`), "the API's requests are counted")
	require.Contains(t, httpBody(t, "http://"+metrics+"/debug/pprof/"), "goroutine")

	// The periodic jobs run at start: the rollup's run is counted, and
	// River logged no error on the way (a periodic job whose options River
	// refuses would show here, not only in the log).
	require.Eventually(t, func() bool {
		return strings.Contains(httpBody(t, "http://"+metrics+"/metrics"), `neksio_jobs_total{kind="analytics.rollup",outcome="completed"} 1`)
	}, 30*time.Second, 100*time.Millisecond, "the rollup's run at start is counted")
	body = httpBody(t, "http://"+metrics+"/metrics")
	require.Contains(t, body, "\nneksio_river_errors_total 0\n")
	require.Contains(t, body, `neksio_job_queue_wait_seconds_count{queue="default"}`)
	for _, name := range []string{"google", "meta", "tiktok", "whatsapp"} {
		require.Contains(t, body, `neksio_connector_up{connector="`+name+`"} 1`, "the connector plugins are up")
	}
	require.Equal(t, http.StatusNotFound, httpStatus("http://"+p.addr+"/metrics"))
	require.Equal(t, http.StatusNotFound, httpStatus("http://"+p.addr+"/debug/pprof/"))
}

// gcPercent reads go_gc_gogc_percent (the runtime's GOGC, as the floor
// last set it) from a process's /metrics.
func gcPercent(t *testing.T, metricsAddr string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(httpBody(t, "http://"+metricsAddr+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, "go_gc_gogc_percent "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatal("/metrics has no go_gc_gogc_percent")
	return 0
}

// The heap floor (NEKSIO_GC_HEAP_FLOOR_MB) raises GOGC while the live heap
// is small; a GOGC the operator sets stands alone.
func TestGCHeapFloor(t *testing.T) {
	t.Parallel()
	metrics := freeAddr(t)
	startServe(t, "NEKSIO_METRICS_ADDR="+metrics, "NEKSIO_GC_HEAP_FLOOR_MB=256")
	require.Greater(t, gcPercent(t, metrics), 100.0, "a 256 MiB floor over a server's live heap of a few tens of MiB")

	operator := freeAddr(t)
	startServe(t, "NEKSIO_METRICS_ADDR="+operator, "NEKSIO_GC_HEAP_FLOOR_MB=256", "GOGC=150")
	require.Equal(t, 150.0, gcPercent(t, operator))
}
