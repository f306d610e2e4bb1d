package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/neksio/neksio/internal/testenv"
)

func main() {
	if serveChild(os.Args) {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// Read the old run before this one overwrites it (BENCH_COMPARE may
	// name bench/results/latest.json itself).
	var old *Report
	if v := os.Getenv("BENCH_COMPARE"); v != "" {
		if old, err = readReport(v); err != nil {
			fmt.Fprintln(os.Stderr, "bench: BENCH_COMPARE:", err)
			os.Exit(2)
		}
	}
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(markdown(rep))
	if old != nil {
		fmt.Print(compareMarkdown(old, rep))
	}
	for _, r := range rep.Results {
		if r.Status == statusError {
			fmt.Fprintf(os.Stderr, "bench: %s failed: %s\n", r.Name, r.Note)
			os.Exit(1)
		}
	}
}

// benchmarks in the order they run.
var benchmarks = []struct {
	name string
	run  func(ctx context.Context, e *runEnv, r *Result) error
}{
	{"plugin", benchPlugin},
	{"ingest", benchIngest},
	{"subscriptions", benchSubscriptions},
	{"agent", benchAgent},
	{"reads", benchReads},
	{"retrieval", benchRetrieval},
	{"publishing", benchPublishing},
	{"analytics", benchAnalytics},
}

// Config is a run's settings.
type Config struct {
	// Scale multiplies every size and duration: 1 is the full run, 0.001 the
	// smoke run of the tests.
	Scale float64
	// Only lists the benchmarks to run; empty runs all.
	Only []string
	// Root is the module root (where go.mod is).
	Root string
	// JSONPath and MarkdownPath are where results go; empty skips.
	JSONPath, MarkdownPath string
	// AdminURL is the PostgreSQL server databases are created on.
	AdminURL string
	Log      *slog.Logger
}

func configFromEnv() (Config, error) {
	root, err := moduleRoot()
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Scale: 1, Root: root, AdminURL: adminURL(),
		JSONPath:     filepath.Join(root, "bench", "results", "latest.json"),
		MarkdownPath: filepath.Join(root, "docs", "benchmarks.md"),
		Log:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if v := os.Getenv("BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 10 {
			return cfg, fmt.Errorf("BENCH_SCALE must be a number in (0, 10], not %q", v)
		}
		cfg.Scale = f
	}
	if v := os.Getenv("BENCH_ONLY"); v != "" {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if !slices.ContainsFunc(benchmarks, func(b struct {
				name string
				run  func(ctx context.Context, e *runEnv, r *Result) error
			}) bool {
				return b.name == n
			}) {
				return cfg, fmt.Errorf("BENCH_ONLY: unknown benchmark %q", n)
			}
			cfg.Only = append(cfg.Only, n)
		}
	}
	if v := os.Getenv("BENCH_OUT"); v != "" {
		cfg.JSONPath = filepath.Join(v, "latest.json")
		cfg.MarkdownPath = filepath.Join(v, "benchmarks.md")
	}
	return cfg, nil
}

// adminURL is the PostgreSQL server to create databases on, the same one
// the tests use.
func adminURL() string { return testenv.PostgresAdminURL() }

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/neksio/neksio\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no github.com/neksio/neksio go.mod above %s", wd)
		}
	}
}

// run executes the benchmarks and writes the results.
func run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	e, err := newRunEnv(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer e.close()
	rep := &Report{Machine: describeMachine(e.pgVersion), Scale: cfg.Scale, Started: start.UTC()}
	for _, b := range benchmarks {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, b.name) {
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r := &Result{Name: b.name, Status: statusOK}
		t0 := time.Now()
		cfg.Log.Info("benchmark", "name", b.name, "scale", cfg.Scale)
		if err := b.run(ctx, e, r); err != nil {
			r.Status, r.Note = statusError, err.Error()
			cfg.Log.Error("benchmark failed", "name", b.name, "err", err)
		}
		r.Seconds = round3(time.Since(t0).Seconds())
		cfg.Log.Info("benchmark done", "name", b.name, "status", r.Status, "seconds", r.Seconds)
		rep.Results = append(rep.Results, r)
		e.cleanupPerBench()
	}
	rep.Seconds = round3(time.Since(start).Seconds())
	if cfg.JSONPath != "" {
		if err := writeJSON(cfg.JSONPath, rep); err != nil {
			return rep, err
		}
	}
	if cfg.MarkdownPath != "" {
		if err := writeMarkdown(cfg.MarkdownPath, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// sized scales n, never below lo.
func (c Config) sized(n int, lo int) int { return max(lo, int(float64(n)*c.Scale)) }

// timed scales d, never below lo.
func (c Config) timed(d time.Duration, lo time.Duration) time.Duration {
	return max(lo, time.Duration(float64(d)*c.Scale))
}
