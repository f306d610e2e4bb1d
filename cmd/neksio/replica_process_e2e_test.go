package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// Two `neksio serve` processes on one PostgreSQL: a subscriber on one (the
// in-process API replica) hears a message ingested through the other (a
// separate OS process running the same binary).
func TestRealtimeAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := newEnv(t, storetest.Postgres, withConfig(func(c *config.Config) { c.Role = "api" }))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, "serve", "--role", "all")
	cmd.Env = append(os.Environ(),
		"NEKSIO_ADDR="+addr,
		"NEKSIO_DATA_DIR="+t.TempDir(),
		"NEKSIO_DATABASE_URL="+b.App.Cfg.DatabaseURL,
		"NEKSIO_MASTER_KEY="+b.App.Cfg.MasterKey,
		"NEKSIO_LOG_LEVEL=warn",
		"NEKSIO_WHATSAPP_APP_SECRET="+testWAAppSecret,
		"NEKSIO_WHATSAPP_API_BASE_URL="+b.WhatsAppURL,
	)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond)

	sub := b.subscribeWS(t, b.Key)
	sub.subscribe("added", `subscription { messageAdded { id text } }`)
	b.waitSubscribers(t, 1)

	body := wasandbox.TextMessage(testWAPhoneID, "16505550777", "Zoe", "through the other process")
	start := time.Now()
	code, _, err := wasandbox.Deliver(t.Context(), http.DefaultClient, "http://"+addr+"/webhooks/whatsapp", testWAAppSecret, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	acked := time.Now()
	got := sub.results("added")
	require.Equal(t, "through the other process", dig(got["added"], "messageAdded", "text"))
	// Reported, not asserted: timings belong to benchmarks.
	t.Logf("process A acknowledged in %s; process B's subscriber had it %s after the 200",
		acked.Sub(start).Round(time.Millisecond), time.Since(acked).Round(time.Millisecond))
}
