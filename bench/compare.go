package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// readReport loads a previous run's JSON (bench/results/latest.json).
func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rep, nil
}

// compareMarkdown prints every metric of the new run beside the same
// metric (benchmark and name) of an old one: the Neksio figure and the
// ratio to the baseline, before and after, with the change in percent.
// The verdict follows the ratio, which is what survives a change of
// machine or load: "better" when it moved more than 5% the good way
// (down for latencies and memory, up for rates), "worse" the other way.
// Metrics the old run did not have are marked new; benchmarks the new
// run skipped (BENCH_ONLY) are left out.
func compareMarkdown(old, cur *Report) string {
	type key struct{ bench, metric string }
	prev := map[key]Metric{}
	for _, r := range old.Results {
		for _, m := range r.Metrics {
			prev[key{r.Name, m.Name}] = m
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Change against the run of %s (BENCH_SCALE %g)\n\n", old.Machine.Date, old.Scale)
	b.WriteString("| benchmark | metric | Neksio before | Neksio after | change | ratio before | ratio after | change | verdict |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range cur.Results {
		for _, m := range r.Metrics {
			p, ok := prev[key{r.Name, m.Name}]
			if !ok {
				fmt.Fprintf(&b, "| %s | %s (%s) | | %s | | | %s | | new |\n", r.Name, m.Name, m.Unit, figure(m), ratioText(m))
				continue
			}
			fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s |\n", r.Name, m.Name, m.Unit,
				figure(p), figure(m), change(p.Neksio, m.Neksio, p.Unavailable || m.Unavailable),
				ratioText(p), ratioText(m), change(p.Ratio, m.Ratio, p.Ratio == 0 || m.Ratio == 0), verdict(p, m))
		}
	}
	return b.String()
}

func figure(m Metric) string {
	if m.Unavailable {
		return "not available"
	}
	return num(m.Neksio)
}

func ratioText(m Metric) string {
	if m.Ratio == 0 {
		return "n/a"
	}
	return num(m.Ratio) + "×"
}

// change is the relative change from a to b, "" when it has no meaning.
func change(a, b float64, skip bool) string {
	if skip || a == 0 {
		return ""
	}
	return fmt.Sprintf("%+.1f%%", (b-a)/a*100)
}

// verdict judges the move of the ratio (see compareMarkdown).
func verdict(p, m Metric) string {
	if p.Ratio == 0 || m.Ratio == 0 {
		return ""
	}
	d := (m.Ratio - p.Ratio) / p.Ratio
	if m.Better == "lower" {
		d = -d
	}
	switch {
	case d > 0.05:
		return "better"
	case d < -0.05:
		return "worse"
	default:
		return "same"
	}
}
