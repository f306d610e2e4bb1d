package main

import (
	"context"
	"encoding/json"
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

// TestMain lets the test binary serve the subscription baseline, as the
// bench binary does (startWSBaseline re-executes itself).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == wsBaselineArg {
		serveWSBaseline()
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
			require.Positive(t, m.Baseline, "%s %s: baseline", r.Name, m.Name)
			if !m.Unavailable {
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
