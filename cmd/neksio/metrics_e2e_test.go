package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/graph/server"
)

// seriesCount is the number of neksio_* series /metrics exposes that
// clients' requests can add: one per counter, and per histogram one per
// bucket (with +Inf) plus _sum and _count. The job and connector series
// are left out: they are labelled by the application's own job kinds,
// queues and connector names, and appear as the env's background jobs
// run, whatever clients send.
func seriesCount(t *testing.T, e *env) int {
	t.Helper()
	mfs, err := e.App.Registry.Gather()
	require.NoError(t, err)
	n := 0
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "neksio_") || strings.HasPrefix(name, "neksio_job") ||
			strings.HasPrefix(name, "neksio_river_") || strings.HasPrefix(name, "neksio_connector_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				n += len(h.GetBucket()) + 3
			} else {
				n++
			}
		}
	}
	return n
}

// labelValues lists the values of one label across a metric family.
func labelValues(t *testing.T, e *env, family, label string) map[string]bool {
	t.Helper()
	mfs, err := e.App.Registry.Gather()
	require.NoError(t, err)
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					out[lp.GetValue()] = true
				}
			}
		}
	}
	return out
}

func randomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "x" + hex.EncodeToString(b)
}

// Clients choose webhook paths and operation names; neither may grow the
// metrics without bound. 5,000 requests to /webhooks/<random> and 5,000
// operations with random names add at most a fixed number of series.
func TestMetricsSeriesBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	e.gql(t, `query Warmup { viewer { role } }`, nil)
	before := seriesCount(t, e)

	const n = 5000
	for i := 0; i < n; i++ {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/"+randomName(), strings.NewReader("{}"))
		rec := httptest.NewRecorder()
		e.App.Handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.Code)
	}
	afterWebhooks := seriesCount(t, e)
	for i := 0; i < n; i++ {
		name := randomName()
		body, _ := json.Marshal(map[string]any{"query": "query " + name + " { viewer { role } }", "operationName": name})
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.Key)
		rec := httptest.NewRecorder()
		e.App.Handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	after := seriesCount(t, e)
	t.Logf("series: %d at start, %d after %d random webhook paths, %d after %d random operation names",
		before, afterWebhooks, n, after, n)

	// One HTTP route and status (a counter and a 16-bucket histogram: 20
	// series) and one "unknown" connector counter.
	require.LessOrEqual(t, afterWebhooks-before, 21, "random webhook paths")
	// Each distinct name labels a request counter and a latency histogram
	// (20 series together): bounded by the cap on names.
	require.LessOrEqual(t, after-afterWebhooks, 20*(server.MaxOperationLabels+1), "random operation names")
	require.True(t, labelValues(t, e, "neksio_graphql_requests_total", "operation")["Warmup"], "names seen first keep their label")
	require.True(t, labelValues(t, e, "neksio_graphql_requests_total", "operation")["other"], "later names share one label")
	require.True(t, labelValues(t, e, "neksio_webhook_deliveries_total", "connector")["unknown"])
}
