package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	hlru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"golang.org/x/time/rate"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/graph"
	"github.com/neksio/neksio/graph/limits"
)

// Options configure the GraphQL server. Zero values take the defaults
// below (README, configuration table; docs/limits.md).
type Options struct {
	// Dev enables introspection and the GraphiQL playground.
	Dev            bool
	MaxComplexity  int
	MaxDepth       int
	RequestTimeout time.Duration
	// DefaultPageSize is the page size of a connection asked for without
	// first or last (default 50); MaxPageSize the largest allowed (200).
	DefaultPageSize int
	MaxPageSize     int
	// MaxAliases bounds the aliased fields of an operation (default 100);
	// MaxRootMutations the mutations one operation runs (default 10).
	MaxAliases       int
	MaxRootMutations int
	// ResolverConcurrency bounds the resolvers one operation runs at once
	// (default 4); ExpensiveConcurrency the expensive fields (AI,
	// platforms, uploads) one workspace runs at once on this replica (2).
	ResolverConcurrency  int
	ExpensiveConcurrency int
	// MaxBodyBytes bounds JSON request bodies (default 1 MiB) and WebSocket
	// messages; MaxUploadBytes multipart uploads (default 10 MiB).
	MaxBodyBytes   int64
	MaxUploadBytes int64
	// AuthFailuresPerMinute is how many failed authentications a client
	// address may make a minute before it is refused without a lookup
	// (default 20; negative: no limit). TrustedProxies are the proxies
	// whose X-Forwarded-For tells the client address.
	AuthFailuresPerMinute int
	TrustedProxies        []string
	// RateLimit is requests per second per API key, with RateBurst.
	RateLimit float64
	RateBurst int
	Logger    *slog.Logger
	Metrics   prometheus.Registerer
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := config.Default() // the one list of defaults (README, configuration table)
	def := func(v *int, n int) {
		if *v <= 0 {
			*v = n
		}
	}
	def(&o.MaxComplexity, d.GraphQLComplexity)
	def(&o.MaxDepth, d.GraphQLDepth)
	def(&o.DefaultPageSize, d.GraphQLDefaultPageSize)
	def(&o.MaxPageSize, d.GraphQLMaxPageSize)
	o.DefaultPageSize = min(o.DefaultPageSize, o.MaxPageSize)
	def(&o.MaxAliases, d.GraphQLMaxAliases)
	def(&o.MaxRootMutations, d.GraphQLMaxRootMutations)
	def(&o.ResolverConcurrency, d.GraphQLResolverConcurrency)
	def(&o.ExpensiveConcurrency, d.GraphQLExpensiveConcurrency)
	if o.AuthFailuresPerMinute == 0 {
		o.AuthFailuresPerMinute = d.AuthFailuresPerMinute
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.GraphQLMaxBodyBytes
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = d.GraphQLMaxUploadBytes
	}
}

// parserTokenLimit bounds the tokens of a query: validation grows faster
// than the query (15,000 aliases take 120 ms to validate), and no real
// operation comes near it.
const parserTokenLimit = 20_000

// Server serves /graphql.
type Server struct {
	gql     *handler.Server
	deps    graph.Deps
	opts    Options
	limits  *hlru.Cache[string, *rate.Limiter] // API key ID → its limiter; bounded, least recently used evicted
	metrics *metrics
	rt      *realtime

	clients   *limits.ClientAddr
	throttle  *limits.AuthThrottle
	expensive *keyedLimit
}

// New builds the GraphQL server: explicit transports (WebSocket with
// graphql-transport-ws and graphql-ws, SSE, GET, POST, multipart),
// operation limits (cost, depth, aliases, mutations, page sizes), a
// parsed-query cache, automatic persisted queries, and introspection only
// in dev mode.
func New(deps graph.Deps, opts Options) *Server {
	opts.defaults()
	deps.Realtime.SetDefaults()
	clients, err := limits.NewClientAddr(opts.TrustedProxies)
	if err != nil { // the configuration is validated before
		opts.Logger.Error("graphql: ignoring trusted proxies", "err", err)
		clients, _ = limits.NewClientAddr(nil)
	}
	s := &Server{deps: deps, opts: opts, rt: newRealtime(deps.Realtime, deps.Auth, busOf(deps)), clients: clients,
		throttle: limits.NewAuthThrottle(opts.AuthFailuresPerMinute), expensive: newKeyedLimit(opts.ExpensiveConcurrency)}
	s.limits, _ = hlru.New[string, *rate.Limiter](limits.ThrottleEntries)
	srv := handler.New(graph.NewExecutableSchema(deps))
	s.gql = srv
	srv.AddTransport(transport.Options{})
	srv.AddTransport(wsTransport{s})
	// Before POST, which would otherwise claim these requests too.
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: deps.Realtime.PingInterval})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.MaxUploadBytes, MaxMemory: opts.MaxUploadBytes})
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(limits.OperationLimits{MaxComplexity: opts.MaxComplexity, MaxDepth: opts.MaxDepth, MaxAliases: opts.MaxAliases,
		MaxRootMutations: opts.MaxRootMutations, DefaultPage: opts.DefaultPageSize, MaxPage: opts.MaxPageSize, Introspection: opts.Dev})
	if opts.Dev {
		srv.Use(extension.Introspection{})
	}
	srv.SetErrorPresenter(graph.ErrorPresenter(opts.Logger))
	srv.SetRecoverFunc(graph.Recover(opts.Logger))
	srv.AroundOperations(s.operationTimeout)
	srv.AroundOperations(graph.AroundSubscriptions)
	srv.Use(fieldBudget{s})
	if opts.Metrics != nil {
		s.metrics = newMetrics(opts.Metrics)
		srv.AroundOperations(s.metrics.around)
		srv.AroundResponses(s.metrics.aroundResponse)
	}
	return s
}

// ServeHTTP authenticates the request (refusing, without a lookup, client
// addresses that failed too often), applies the per-key rate limit, bounds
// and checks the body, then runs the operation under the request timeout.
// WebSocket upgrades pass without a header (the key may come in
// connection_init, see wsInit); SSE streams run without the request
// timeout, under the per-key connection limit.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		s.gql.ServeHTTP(w, r)
		return
	}
	// Every request has an ID (the client's X-Request-ID when it is a
	// plain token, else a new one), echoed back and written on the audit
	// entries it causes.
	rid := audit.CleanRequestID(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, rid)
	r = r.WithContext(auth.WithClient(audit.WithRequestID(r.Context(), rid), auth.Client{IP: s.clients.Key(r), UserAgent: r.UserAgent()}))
	if isWebSocket(r) {
		s.serveWebSocket(w, r)
		return
	}
	key, ok := bearer(r)
	if !ok {
		if publicOperation(r) {
			// signIn and acceptInvite: no viewer; core/auth throttles them
			// per email and per address.
			w, r, ok = s.readBody(w, r)
			if !ok {
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
			defer cancel()
			s.servePublic(w, r.WithContext(ctx))
			return
		}
		writeError(w, http.StatusUnauthorized, apperr.CodeUnauthenticated, "missing credential: send Authorization: Bearer <API key or session token>")
		return
	}
	addr := s.clients.Key(r)
	if wait, refused := s.throttle.Refused(addr, key); refused {
		w.Header().Set("Retry-After", limits.RetryAfter(wait))
		writeError(w, http.StatusTooManyRequests, apperr.CodeRateLimited, "too many failed authentications from this address; try again later")
		return
	}
	viewer, err := s.deps.Auth.AuthenticateBearer(r.Context(), key, r.Header.Get(WorkspaceHeader))
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrInvalidKey):
			s.throttle.Failed(addr, key)
			writeError(w, http.StatusUnauthorized, apperr.CodeUnauthenticated, "invalid API key")
		case errors.Is(err, auth.ErrInvalidSession):
			s.throttle.Failed(addr, key)
			writeError(w, http.StatusUnauthorized, apperr.CodeUnauthenticated, "invalid or expired session: sign in again")
		case errors.Is(err, auth.ErrNotMember):
			writeError(w, http.StatusForbidden, apperr.CodeForbidden, "not a member of the workspace in "+WorkspaceHeader)
		default:
			s.opts.Logger.Error("authentication failed", "err", err)
			writeError(w, http.StatusServiceUnavailable, apperr.CodeUnavailable, "authentication unavailable")
		}
		return
	}
	s.throttle.Succeeded(key)
	if !s.allow(limitKey(viewer)) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, apperr.CodeRateLimited, "rate limit exceeded")
		return
	}
	w, r, ok = s.readBody(w, r)
	if !ok {
		return
	}
	if isSSE(r) {
		s.serveSSE(w, r, viewer, key)
		return
	}
	ctx, cancel := context.WithTimeout(tenant.NewContext(r.Context(), viewer), s.opts.RequestTimeout)
	defer cancel()
	s.gql.ServeHTTP(w, r.WithContext(ctx))
}

func (s *Server) allow(keyID string) bool {
	if s.opts.RateLimit <= 0 {
		return true
	}
	l, ok := s.limits.Get(keyID)
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.opts.RateLimit), max(s.opts.RateBurst, 1))
		if prev, found, _ := s.limits.PeekOrAdd(keyID, l); found {
			l = prev
		}
	}
	return l.Allow()
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// writeError answers with a GraphQL-shaped error body for failures that
// happen before an operation runs (authentication, rate limits).
func writeError(w http.ResponseWriter, status int, code apperr.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": string(code)}}},
	})
}

// MaxOperationLabels bounds the operation names the GraphQL metrics label
// by, per process. Clients choose operation names, so each new name would
// otherwise add about 20 series: the first MaxOperationLabels distinct
// names (GraphQL names of at most 64 characters) keep their own label,
// every later one is counted as "other".
const MaxOperationLabels = 100

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec

	mu    sync.Mutex
	names map[string]struct{}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neksio_graphql_requests_total", Help: "GraphQL operations by name and type.",
		}, []string{"operation", "type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "neksio_graphql_request_duration_seconds", Help: "GraphQL operation latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neksio_graphql_errors_total", Help: "GraphQL errors by operation and code.",
		}, []string{"operation", "code"}),
	}
	m.names = map[string]struct{}{}
	reg.MustRegister(m.requests, m.duration, m.errors)
	return m
}

func (m *metrics) opLabels(ctx context.Context) (name, typ string) {
	if !graphql.HasOperationContext(ctx) {
		return "unknown", "unknown"
	}
	oc := graphql.GetOperationContext(ctx)
	// The operation the document names, not the request's operationName:
	// that one is any string a client sends, even for a document that
	// failed to parse.
	if oc.Operation == nil {
		return "unknown", "unknown"
	}
	return m.nameLabel(oc.Operation.Name), string(oc.Operation.Operation)
}

// nameLabel is the label for a client's operation name: the name itself
// while fewer than MaxOperationLabels distinct names have been seen,
// "other" beyond that (and, defensively, for anything that is not a
// plain GraphQL name).
func (m *metrics) nameLabel(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !graphQLName.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.names[name]; ok {
		return name
	}
	if len(m.names) >= MaxOperationLabels {
		return "other"
	}
	m.names[name] = struct{}{}
	return name
}

// graphQLName matches a GraphQL Name of at most 64 characters.
var graphQLName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

func (m *metrics) around(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	name, typ := m.opLabels(ctx)
	m.requests.WithLabelValues(name, typ).Inc()
	return next(ctx)
}

func (m *metrics) aroundResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	name, typ := m.opLabels(ctx)
	m.duration.WithLabelValues(name, typ).Observe(time.Since(start).Seconds())
	if resp != nil {
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" {
				code = "UNKNOWN"
			}
			m.errors.WithLabelValues(name, code).Inc()
		}
	}
	return resp
}
