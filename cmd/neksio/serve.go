package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"
	"gocloud.dev/blob"
	"golang.org/x/term"

	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/webhook"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/graph"
	"github.com/neksio/neksio/graph/model"
	"github.com/neksio/neksio/graph/playground"
	"github.com/neksio/neksio/graph/server"
	"github.com/neksio/neksio/internal/gcfloor"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/plugins/sdk"
)

func serveCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, the webhook endpoints, the connectors and the workers",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if role != "" {
				cfg.Role = role
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			return serve(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "api, worker or all (default: NEKSIO_ROLE or all)")
	return cmd
}

// App is a wired Neksio process.
type App struct {
	Cfg        *config.Config
	Log        *slog.Logger
	Store      *store.Store
	Connectors *connector.Manager
	Channels   *channel.Service
	Inbox      *inbox.Service
	Auth       *auth.Service
	River      *river.Client[*sql.Tx]
	Workers    *river.Workers
	Registry   *prometheus.Registry
	Handler    http.Handler
	// Bucket is the media bucket (files, attachments, export archives):
	// one handle, shared by publishing's media store and privacy.
	Bucket *blob.Bucket
	// GraphDeps are handed to the GraphQL server; the features' wiring adds to them.
	GraphDeps graph.Deps
	// Mounts add routes to the HTTP mux.
	Mounts []func(mux *http.ServeMux)
	// OnStart and OnClose run after Start and before Close (subscriptions' listeners, ...).
	OnStart []func(ctx context.Context) error
	OnClose []func()
	// PeriodicJobs are scheduled by worker processes, next to the core ones.
	PeriodicJobs []*river.PeriodicJob
}

// newApp wires every component. Nothing runs until Start.
func newApp(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	s, err := openStore(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return nil, err
	}
	box, err := loadBox(ctx, cfg, log, s)
	if err != nil {
		s.Close()
		return nil, err
	}
	mgr, err := newConnectorManager(cfg, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	channels := &channel.Service{Store: s, Box: box, Gateway: mgr, Apps: func(name string) sdk.App { return appSettings(cfg.Environment(), name) }, Log: log}
	in := &inbox.Service{Store: s, Gateway: mgr, Channels: channels, Rules: mgr, Capabilities: mgr,
		HumanAgentAllowed: func(name string) bool {
			return strings.EqualFold(strings.TrimSpace(appSettings(cfg.Environment(), name).Settings["human_agent_tag"]), "true")
		}}
	authSvc := &auth.Service{Store: s}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), mgr.Collector())
	app := &App{Cfg: cfg, Log: log, Store: s, Connectors: mgr, Channels: channels, Inbox: in, Auth: authSvc,
		Registry: reg, Workers: river.NewWorkers()}
	app.GraphDeps = graph.Deps{Store: s, Auth: authSvc, Inbox: in, Channels: channels, Connectors: app.connectorInfo}
	jobs.Register(app.Workers, jobs.Deps{Inbox: in, Channels: channels})
	if err := app.wireFeatures(ctx); err != nil {
		s.Close()
		return nil, err
	}

	// Both River clients log through one handler that counts River's
	// errors (neksio_river_errors_total): some, such as a periodic job
	// River refuses to queue, reach only the log.
	riverLog := slog.New(jobs.CountErrors(log.With("component", "river").Handler(), reg))
	rcfg := jobs.Configure(&river.Config{Logger: riverLog})
	if cfg.Role != "api" {
		rcfg.Queues = jobs.Queues()
		rcfg.Workers = app.Workers
		rcfg.PeriodicJobs = append(jobs.PeriodicJobs(), app.PeriodicJobs...)
		rcfg.Middleware = []rivertype.Middleware{jobs.NewMetrics(reg)}
		reg.MustRegister(jobs.QueueDepth{DB: s.DB, Log: log})
	}
	rc, err := river.NewClient(s.Driver, rcfg)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("river: %w", err)
	}
	s.SetJobs(rc)
	if s.Pool != nil {
		// The same jobs through River's pgx driver on the inserting
		// transaction's connection (store.SetPgxJobs): insert-only, it
		// works no jobs and needs no pool.
		pc, err := river.NewClient(riverpgxv5.New(nil), jobs.Configure(&river.Config{Logger: riverLog}))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("river: %w", err)
		}
		s.SetPgxJobs(pc)
	}
	app.River = rc
	app.Handler = app.routes()
	return app, nil
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	gql := server.New(a.GraphDeps, server.Options{
		Dev:                   a.Cfg.DevMode(),
		MaxComplexity:         a.Cfg.GraphQLComplexity,
		MaxDepth:              a.Cfg.GraphQLDepth,
		RequestTimeout:        a.Cfg.RequestTimeout,
		DefaultPageSize:       a.Cfg.GraphQLDefaultPageSize,
		MaxPageSize:           a.Cfg.GraphQLMaxPageSize,
		MaxAliases:            a.Cfg.GraphQLMaxAliases,
		MaxRootMutations:      a.Cfg.GraphQLMaxRootMutations,
		ResolverConcurrency:   a.Cfg.GraphQLResolverConcurrency,
		ExpensiveConcurrency:  a.Cfg.GraphQLExpensiveConcurrency,
		MaxBodyBytes:          a.Cfg.GraphQLMaxBodyBytes,
		MaxUploadBytes:        a.Cfg.GraphQLMaxUploadBytes,
		AuthFailuresPerMinute: a.Cfg.AuthFailuresPerMinute,
		TrustedProxies:        a.Cfg.TrustedProxies,
		RateLimit:             a.Cfg.RateLimit,
		RateBurst:             a.Cfg.RateBurst,
		Logger:                a.Log,
		Metrics:               a.Registry,
	})
	// Browser frontends on other origins: CORS for exactly the configured
	// origins (the list the WebSocket check uses); none when unset.
	mux.Handle("/graphql", server.WithCORS(gql, a.Cfg.AllowedOrigins))
	if a.Cfg.DevMode() {
		// GraphiQL and its assets, all from the binary (no CDN).
		mux.Handle("GET /{$}", playground.Page("Neksio GraphQL", "/graphql"))
		mux.Handle("GET "+playground.AssetsPath, playground.Assets())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Store.Ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	wh := &webhook.Handler{Store: a.Store, Gateway: a.Connectors, Channels: a.Channels, Inbox: a.Inbox,
		MaxBytes: a.Cfg.WebhookMaxBytes, Log: a.Log}
	wh.Register(mux, a.Registry)
	for _, mount := range a.Mounts {
		mount(mux)
	}
	return instrument(mux, a.Registry)
}

func (a *App) connectorInfo() []*model.ConnectorInfo {
	var out []*model.ConnectorInfo
	for _, c := range a.Connectors.List() {
		caps := make([]string, len(c.Capabilities))
		for i, cp := range c.Capabilities {
			caps[i] = string(cp)
		}
		out = append(out, &model.ConnectorInfo{Name: c.Name, Version: c.Version, Platforms: c.Platforms, Capabilities: caps, Healthy: c.Healthy})
	}
	return out
}

// Start launches the connectors and the workers.
func (a *App) Start(ctx context.Context) error {
	if err := a.Connectors.Start(ctx); err != nil {
		return fmt.Errorf("connectors: %w", err)
	}
	if a.Cfg.Role != "api" {
		if err := a.River.Start(ctx); err != nil {
			return fmt.Errorf("river: %w", err)
		}
	}
	for _, f := range a.OnStart {
		if err := f(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops everything, workers first so no job runs against a closed store.
func (a *App) Close() {
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, f := range a.OnClose {
		f()
	}
	if a.Cfg.Role != "api" {
		_ = a.River.Stop(stopCtx)
	}
	_ = a.Connectors.Close()
	_ = a.Store.Close()
}

// ownerKeyFile is where the first start leaves the owner key when no
// terminal can show it.
const ownerKeyFile = "owner-api-key"

// bootstrap creates a workspace and an owner key on the first start of an
// empty database. The key never goes to the log: on an interactive
// terminal it is shown once; otherwise (a service manager, a container)
// stdout usually ends up in a log too, so the key is written to a 0600
// file in the data dir and only that file's path is logged.
func (a *App) bootstrap(ctx context.Context, out io.Writer) (err error) {
	n, err := workspace.Count(ctx, a.Store)
	if err != nil || n > 0 {
		return err
	}
	tty := isTerminal(out)
	var f *os.File
	path := filepath.Join(a.Cfg.DataDir, ownerKeyFile)
	if !tty {
		// Opened before anything is created, so a data dir that cannot
		// take the file fails the start instead of losing the key. A file
		// left from an earlier database holds a key that no longer works.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("owner key file: %w", err)
		}
		written := false
		defer func() {
			f.Close()
			if !written {
				os.Remove(path)
			}
		}()
		defer func() { written = err == nil }()
	}
	ws, err := workspace.Create(ctx, a.Store, "My workspace")
	if err != nil {
		return err
	}
	key, _, err := a.Auth.CreateKeyForWorkspace(ctx, string(ws.ID), "first start", tenant.RoleOwner)
	if err != nil {
		return err
	}
	if tty {
		fmt.Fprintf(out, "\n"+
			"================================================================\n"+
			" Neksio first start: created workspace %s\n"+
			" Owner API key (shown once, store it now):\n\n"+
			"   %s\n\n"+
			" Try:  curl -s http://%s/graphql -H 'Authorization: Bearer %s' \\\n"+
			"         -H 'Content-Type: application/json' -d '{\"query\":\"{ viewer { role workspace { id name } } }\"}'\n"+
			"================================================================\n\n",
			ws.ID, key, a.Cfg.Addr, key)
		a.Log.Info("first start: created a workspace and an owner API key, shown on the terminal", "workspace", ws.ID)
		return nil
	}
	if _, err := fmt.Fprintln(f, key); err != nil {
		return fmt.Errorf("owner key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("owner key file: %w", err)
	}
	a.Log.Warn("first start: created a workspace and an owner API key; the key is in this file (readable by this user only): store it elsewhere and delete the file",
		"workspace", ws.ID, "path", path)
	return nil
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func serve(ctx context.Context, cfg *config.Config, out io.Writer) error {
	log := newLogger(cfg)
	slog.SetDefault(log)
	defer startGCFloor(cfg, log).Stop()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	app, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if cfg.Role != "worker" {
		if err := app.bootstrap(ctx, out); err != nil {
			return fmt.Errorf("first start: %w", err)
		}
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	if addr, explicit := cfg.MetricsListenAddr(); addr != "" {
		if err := servePrivate(ctx, cfg, addr, app.Registry, log); err != nil {
			if explicit {
				return fmt.Errorf("NEKSIO_METRICS_ADDR: %w", err)
			}
			log.Warn("metrics: cannot listen on the default address; set NEKSIO_METRICS_ADDR to another one, or to off", "addr", addr, "err", err)
		}
	}
	if cfg.PprofAddr != "" {
		if err := servePrivate(ctx, cfg, cfg.PprofAddr, nil, log); err != nil {
			log.Warn("pprof: cannot listen", "addr", cfg.PprofAddr, "err", err)
		}
	}
	if cfg.Role == "worker" {
		log.Info("worker running")
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app.Handler}
	configureHTTPServer(srv, cfg)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	db := "sqlite " + cfg.SQLitePath()
	if cfg.Postgres() {
		db = "postgres"
	}
	log.Info("neksio listening", "addr", "http://"+ln.Addr().String(), "database", db, "role", cfg.Role, "dev", cfg.DevMode())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newConnectorManager(cfg *config.Config, log *slog.Logger) (*connector.Manager, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	quotas, err := requestQuotas(cfg.Environment())
	if err != nil {
		return nil, err
	}
	mgr := connector.New(connector.Options{PluginDir: cfg.PluginDir, CallTimeout: cfg.PluginTimeout, Logger: log.With("component", "connector"),
		RequestsPerMinute: quotas})
	for _, name := range cfg.Connectors {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := builtinConnectors[name]; !ok {
			return nil, fmt.Errorf("NEKSIO_CONNECTORS: no built-in connector %q", name)
		}
		n := name
		if err := mgr.Register(n, func() *exec.Cmd { return exec.Command(self, "connector", "serve", n) }); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// appSettings reads a connector's app-level settings from the
// NEKSIO_<CONNECTOR>_* lines of environ (config.Config.Environment), the
// connector's name spelled as its request quota's is (connector.SettingName).
func appSettings(environ []string, name string) sdk.App {
	prefix := "NEKSIO_" + strings.ToUpper(connector.SettingName(name)) + "_"
	settings := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			settings[strings.ToLower(rest)] = v
		}
	}
	secret := settings["app_secret"]
	if secret == "" {
		secret = settings["client_secret"]
	}
	return sdk.App{
		APIBaseURL:   settings["api_base_url"],
		ClientID:     settings["client_id"],
		ClientSecret: secret,
		VerifyToken:  settings["verify_token"],
		Settings:     settings,
	}
}

// instrument counts HTTP requests by route pattern and status.
func instrument(next *http.ServeMux, reg prometheus.Registerer) http.Handler {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "neksio_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "neksio_http_request_duration_seconds", Help: "HTTP latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"})
	reg.MustRegister(reqs, dur)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rw, r)
		// The mux records the route it matched on the request: no second lookup.
		pattern := r.Pattern
		if pattern == "" {
			pattern = "unmatched"
		}
		reqs.WithLabelValues(pattern, fmt.Sprint(rw.code)).Inc()
		dur.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int)        { w.code = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streaming responses (SSE subscriptions) through the metrics wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// servePrivate serves /metrics (when reg is set) and Go's profiler at
// /debug/pprof/ on their own address, never on the public one: operation
// names, webhook volumes and profiles are for operators only. It has the
// public listener's timeouts: a profile longer than
// NEKSIO_HTTP_WRITE_TIMEOUT is cut.
func servePrivate(ctx context.Context, cfg *config.Config, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	mux := http.NewServeMux()
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	configureHTTPServer(srv, cfg)
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(ln) }()
	log.Info("private listener (metrics, pprof)", "addr", "http://"+ln.Addr().String(), "metrics", reg != nil)
	return nil
}

// startGCFloor gives the heap target its floor (NEKSIO_GC_HEAP_FLOOR_MB),
// unless the operator set GOGC: then the runtime's setting stands alone.
func startGCFloor(cfg *config.Config, log *slog.Logger) *gcfloor.Floor {
	if _, set := os.LookupEnv("GOGC"); set || cfg.GCHeapFloorMB == 0 {
		return nil
	}
	f := gcfloor.Start(uint64(cfg.GCHeapFloorMB) << 20)
	if f == nil {
		return nil
	}
	log.Debug("gc heap floor", "mib", cfg.GCHeapFloorMB, "gc_percent", f.Percent())
	return f
}
