package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/internal/testenv"
)

// TestMain lets the test binary serve the subscription and thread
// baselines, as the bench binary does (startWSBaseline and
// startThreadBaseline re-execute it).
func TestMain(m *testing.M) {
	if serveChild(os.Args) {
		return
	}
	os.Exit(m.Run())
}

// TestSmoke runs every benchmark at a tiny scale so none of them rots. It
// checks that each produced its figures, never how fast anything was.
func TestSmoke(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if c, err := pgx.Connect(ctx, adminURL()); err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+adminURL(), err)
	} else {
		c.Close(ctx)
	}
	out := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg := Config{Scale: 0.001, Root: root, AdminURL: adminURL(), Log: log,
		JSONPath: filepath.Join(out, "latest.json"), MarkdownPath: filepath.Join(out, "benchmarks.md")}
	rep, err := run(ctx, cfg)
	require.NoError(t, err)

	require.Len(t, rep.Results, len(benchmarks))
	for _, r := range rep.Results {
		require.NotEqual(t, statusError, r.Status, "%s: %s", r.Name, r.Note)
		require.NotEmpty(t, r.Metrics, r.Name)
		require.NotEmpty(t, r.Baseline, r.Name)
		for _, m := range r.Metrics {
			if m.Absolute { // no baseline; a backlog may be empty
				require.GreaterOrEqual(t, m.Neksio, 0.0, "%s %s", r.Name, m.Name)
				continue
			}
			if !m.Unavailable { // e.g. Milvus Lite before `make tools`; CI requires it below
				require.Positive(t, m.Baseline, "%s %s: baseline", r.Name, m.Name)
				require.Positive(t, m.Neksio, "%s %s", r.Name, m.Name)
				require.Positive(t, m.Ratio, "%s %s", r.Name, m.Name)
			}
		}
		require.Equal(t, statusOK, r.Status, "%s: %s", r.Name, r.Note)
		if r.Name == "retrieval" && testenv.CI() {
			for _, m := range r.Metrics {
				require.False(t, m.Unavailable, "Milvus Lite must run in CI: %s", r.Note)
			}
		}
		if r.Name == "reads" {
			require.Contains(t, r.Note, "no N+1", "reads: %s", r.Note)
		}
	}

	var decoded Report
	raw, err := os.ReadFile(cfg.JSONPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &decoded))
	require.Equal(t, 0.001, decoded.Scale)
	require.NotEmpty(t, decoded.Machine.PostgreSQL)
	md, err := os.ReadFile(cfg.MarkdownPath)
	require.NoError(t, err)
	for _, b := range benchmarks {
		require.Contains(t, string(md), "### "+b.name+":")
	}
}

func TestMarkdownKeepsHandWrittenText(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.md")
	require.NoError(t, os.WriteFile(path, []byte("# Title\n\nintro\n\n"+markBegin+"\nold\n"+markEnd+"\n\n## Method\nkept\n"), 0o644))
	rep := &Report{Scale: 1, Results: []*Result{{Name: "x", Title: "t", Status: statusOK, Baseline: "b",
		Metrics: []Metric{{Name: "rate", Unit: "1/s", Neksio: 50, Baseline: 100, Ratio: 0.5}}}}}
	require.NoError(t, writeMarkdown(path, rep))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	require.True(t, strings.HasPrefix(s, "# Title\n\nintro\n\n"+markBegin))
	require.True(t, strings.HasSuffix(s, markEnd+"\n\n## Method\nkept\n"))
	require.NotContains(t, s, "\nold\n")
	require.Contains(t, s, "| x | rate (1/s) | 50.0 | 100 | 0.500× |")
}

func TestNormalizeSQL(t *testing.T) {
	t.Parallel()
	require.Equal(t, `SELECT * FROM "messages" WHERE "conversation_id" IN (...)`,
		normalizeSQL("SELECT *\n  FROM \"messages\" WHERE \"conversation_id\" IN ($1, $2, $3)"))
}

// BenchmarkCheckAnswer compares what the reads benchmark's client spends
// per inbox answer (50 conversations with contact and last message):
// decoding it into maps, as the load loop did, against checkGQL's check.
//
//	go test ./bench -run '^$' -bench CheckAnswer -benchmem
func BenchmarkCheckAnswer(b *testing.B) {
	type node = map[string]any
	edges := make([]any, 50)
	for i := range edges {
		edges[i] = node{"node": node{
			"id": fmt.Sprintf("cnv_01JD8X3K4M5N6P7Q8R9S%06d", i), "status": "OPEN", "lastMessageAt": "2026-11-30T03:46:20.123456Z",
			"contact": node{"id": fmt.Sprintf("ctc_01JD8X3K4M5N6P7Q8R9S%06d", i), "name": "Customer " + fmt.Sprint(i)},
			"messages": node{"edges": []any{node{"node": node{
				"id": fmt.Sprintf("msg_01JD8X3K4M5N6P7Q8R9S%06d", i), "text": "Hello, is my order on its way? It was due yesterday.",
				"direction": "INBOUND", "sentAt": "2026-11-30T03:46:20.123456Z"}}}},
		}}
	}
	raw, err := json.Marshal(node{"data": node{"conversations": node{"edges": edges,
		"pageInfo": node{"hasNextPage": true, "endCursor": "gaFpuGNudl8wMUpEOFgzSzRNNU42UDdROFI5UzAwMDA0OQ"}}}})
	require.NoError(b, err)
	b.Run("maps", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			var res gqlResult
			if err := json.Unmarshal(raw, &res); err != nil || res.err() != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkGQL", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if err := checkGQL(raw, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestCheckGQL(t *testing.T) {
	for _, c := range []struct {
		raw, err string
	}{
		{`{"data":{"conversations":{"edges":[]}}}`, ""},
		{`{"data":{"a":{"text":"say \"errors\": here"}}}`, ""},
		{`{"data":{"errors":{"x":1}}}`, ""}, // a field aliased "errors" takes the long way and passes
		{`{"errors":[{"message":"forbidden"}],"data":null}`, "forbidden"},
		{`{"data":{"a":null},"errors":[{"message":"late"}]}`, "late"},
		{`{"data":null}`, "no data"},
		{`{"data":{`, "unexpected end"},
	} {
		err := checkGQL([]byte(c.raw), nil)
		if c.err == "" {
			require.NoError(t, err, c.raw)
		} else {
			require.ErrorContains(t, err, c.err, c.raw)
		}
	}
}
