package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/plugins/sdk"
)

// TestReadCost is a measurement, not a check (it asserts nothing about
// the figures): what one inbox page (50 conversations with contact and
// last message, the bench's query) and one thread (50 messages) cost the
// server in process, on PostgreSQL: allocations and bytes per request,
// and CPU per request with 8 concurrent callers (the test process's CPU
// time, which the database's does not count in). Run it with
// NEKSIO_READ_COST=1 (docs/benchmarks.md, "The read path in gqlgen").
func TestReadCost(t *testing.T) {
	if os.Getenv("NEKSIO_READ_COST") == "" {
		t.Skip("a measurement: NEKSIO_READ_COST=1 runs it")
	}
	b := setupRT(t, storetest.Postgres)
	for c := range 50 {
		for i := range 3 {
			b.ingest(t, b.channel, fmt.Sprintf("cust-%d", c), fmt.Sprintf("c%d m%d", c, i), fmt.Sprintf("wamid.%d.%d", c, i), sdk.ActionCreated)
		}
	}
	const inbox = `query Inbox { conversations(first: 50, where: {status: OPEN}, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
  edges { node { id status lastMessageAt
    contact { id name }
    messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}) { edges { node { id text direction sentAt } } } } }
  pageInfo { hasNextPage endCursor } } }`
	for i := range 50 {
		b.ingest(t, b.channel, "cust-long", fmt.Sprintf("long m%d", i), fmt.Sprintf("wamid.long.%d", i), sdk.ActionCreated)
	}
	data := b.post(t, b.key, `{ conversations(first: 1, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) { edges { node { id } } } }`, nil)
	conv := data["conversations"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"]
	const thread = `query Thread($id: ID!) { node(id: $id) { ... on Conversation {
  messages(first: 50) { edges { node { id text direction sentAt deliveryStatus } } pageInfo { hasNextPage endCursor } } } } }`
	for _, q := range []struct {
		name, q string
		vars    map[string]any
	}{{"inbox", inbox, nil}, {"thread", thread, map[string]any{"id": conv}}} {
		body, _ := json.Marshal(map[string]any{"query": q.q, "variables": q.vars})
		run := func() {
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+b.key)
			w := httptest.NewRecorder()
			b.server.ServeHTTP(w, req)
			if w.Code != 200 || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
				t.Errorf("%s: %d %s", q.name, w.Code, w.Body.String()) // Errorf: run is called from other goroutines too
			}
		}
		for range 50 {
			run()
		}
		const n = 400
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		for range n {
			run()
		}
		el := time.Since(t0)
		runtime.ReadMemStats(&m1)
		cpu := func() time.Duration {
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		c0 := cpu()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / 8 {
					run()
				}
			}()
		}
		wg.Wait()
		t.Logf("%s: %.0f allocations, %.0f KiB, %v wall (one at a time), %v CPU with 8 callers, per request",
			q.name, float64(m1.Mallocs-m0.Mallocs)/n, float64(m1.TotalAlloc-m0.TotalAlloc)/n/1024, el/n, (cpu()-c0)/n)
	}
}
