package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/plugins/sdk"
)

// BenchmarkReadPath measures what one inbox page (50 conversations with
// contact and last message, the bench's query) and one thread (50
// messages) cost the server in process, on PostgreSQL: time, allocations
// and bytes per request, one caller at a time and with parallel callers
// (docs/benchmarks.md, "The read path in gqlgen"):
//
//	go test ./graph/server -run '^$' -bench ReadPath -benchmem
func BenchmarkReadPath(b *testing.B) {
	rt := setupRT(b, storetest.Postgres)
	rt.seed(b, slices.Repeat([]int{3}, 50)...)
	for i := range 50 {
		rt.ingest(b, rt.channel, "cust-long", fmt.Sprintf("long m%d", i), fmt.Sprintf("wamid.long.%d", i), sdk.ActionCreated)
	}
	data := rt.post(b, rt.key, `{ conversations(first: 1, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) { edges { node { id } } } }`, nil)
	conv := data["conversations"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"]
	const inbox = `query Inbox { conversations(first: 50, where: {status: OPEN}, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
  edges { node { id status lastMessageAt
    contact { id name }
    messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}) { edges { node { id text direction sentAt } } } } }
  pageInfo { hasNextPage endCursor } } }`
	const thread = `query Thread($id: ID!) { node(id: $id) { ... on Conversation {
  messages(first: 50) { edges { node { id text direction sentAt deliveryStatus } } pageInfo { hasNextPage endCursor } } } } }`
	for _, q := range []struct {
		name, q string
		vars    map[string]any
	}{{"inbox", inbox, nil}, {"thread", thread, map[string]any{"id": conv}}} {
		body, _ := json.Marshal(map[string]any{"query": q.q, "variables": q.vars})
		run := func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+rt.key)
			w := httptest.NewRecorder()
			rt.server.ServeHTTP(w, req)
			if w.Code != 200 || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
				b.Errorf("%s: %d %s", q.name, w.Code, w.Body.String()) // Errorf: called from RunParallel's goroutines too
			}
		}
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				run(b)
			}
		})
		b.Run(q.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					run(b)
				}
			})
		})
	}
}
