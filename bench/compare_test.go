package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareMarkdown(t *testing.T) {
	t.Parallel()
	old := &Report{Scale: 1, Machine: Machine{Date: "2026-11-28T13:28:28Z"}, Results: []*Result{
		{Name: "reads", Metrics: []Metric{
			{Name: "inbox latency p50", Unit: "ms", Neksio: 25, Baseline: 1.25, Ratio: 20, Better: "lower"},
			{Name: "inbox requests per second", Unit: "1/s", Neksio: 300, Baseline: 5000, Ratio: 0.06, Better: "higher"},
			{Name: "thread latency p50", Unit: "ms", Neksio: 5, Baseline: 0.5, Ratio: 10, Better: "lower"},
		}},
		{Name: "ingest", Metrics: []Metric{{Name: "events per second", Unit: "1/s", Neksio: 500, Baseline: 4000, Ratio: 0.125, Better: "higher"}}},
	}}
	cur := &Report{Scale: 1, Results: []*Result{
		{Name: "reads", Metrics: []Metric{
			{Name: "inbox latency p50", Unit: "ms", Neksio: 5, Baseline: 1.25, Ratio: 4, Better: "lower"},
			{Name: "inbox requests per second", Unit: "1/s", Neksio: 250, Baseline: 5000, Ratio: 0.05, Better: "higher"},
			{Name: "thread latency p50", Unit: "ms", Neksio: 5.1, Baseline: 0.5, Ratio: 10.2, Better: "lower"},
			{Name: "inbox SQL statements per request", Unit: "statements", Neksio: 2, Baseline: 1, Ratio: 2, Better: "lower"},
		}},
	}}
	out := compareMarkdown(old, cur)
	require.Contains(t, out, "| reads | inbox latency p50 (ms) | 25.0 | 5.000 | -80.0% | 20.0× | 4.000× | -80.0% | better |")
	require.Contains(t, out, "| reads | inbox requests per second (1/s) | 300 | 250 | -16.7% | 0.060× | 0.050× | -16.7% | worse |")
	require.Contains(t, out, "| reads | thread latency p50 (ms) | 5.000 | 5.100 | +2.0% | 10.0× | 10.2× | +2.0% | same |")
	require.Contains(t, out, "| reads | inbox SQL statements per request (statements) | | 2.000 | | | 2.000× | | new |")
	// Benchmarks this run skipped are left out.
	require.NotContains(t, out, "ingest")

	// A report round-trips through the JSON the run writes.
	path := filepath.Join(t.TempDir(), "old.json")
	require.NoError(t, writeJSON(path, old))
	back, err := readReport(path)
	require.NoError(t, err)
	require.Equal(t, old.Results[0].Metrics, back.Results[0].Metrics)
}
