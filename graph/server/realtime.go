package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/graph"
)

// WebSocket close codes. 44xx follow graphql-transport-ws (the graphql-ws
// library's CloseCode), the rest are Neksio's; docs/realtime.md lists them.
// graphql-ws clients retry every code except 4400, 4401, 4409 and 4429.
const (
	closeBadMessage   = 4400 // malformed or unexpected message
	closeUnauthorized = 4401 // no or invalid API key or session; subscribe before connection_ack
	closeForbidden    = 4403 // connection limit reached; not a member of the workspace named; credential revoked, member removed or role changed while connected
	closeInitTimeout  = 4408 // no connection_init within InitTimeout
	closeDuplicateID  = 4409 // an operation with this id is already running
	closeSlowConsumer = 4413 // the client fell behind: reconnect and refetch
	closeTooManyInit  = 4429 // a second connection_init
	closeResync       = 4503 // the replica's event stream was interrupted: reconnect and refetch
	closeTryAgain     = 1013 // authentication unavailable or rate limited (RFC 6455 "Try Again Later")
)

// keyCheckInterval is how often a long-lived connection checks that its
// API key is still valid.
var keyCheckInterval = time.Minute

// realtime holds the limits shared by all of a server's connections.
type realtime struct {
	opts graph.RealtimeOptions

	mu     sync.Mutex
	perKey map[string]int
	// closed counts connections the server closed, by close code.
	closed map[int]int

	sweeper *sweeper
	pinger  *pinger
}

func newRealtime(opts graph.RealtimeOptions, a *auth.Service, bus *event.Bus) *realtime {
	return &realtime{opts: opts, perKey: map[string]int{}, closed: map[int]int{}, sweeper: &sweeper{auth: a, bus: bus}, pinger: &pinger{interval: opts.PingInterval}}
}

func (rt *realtime) closedWith(code int) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.closed[code]
}

// connState is one realtime connection: a WebSocket, or an SSE stream.
type connState struct {
	rt        *realtime
	headerKey string
	// headerWorkspace is the upgrade request's X-Neksio-Workspace.
	headerWorkspace string
	addr            string             // the client address, for the failed-authentication throttle
	ws              *wsConn            // nil for SSE
	cancel          context.CancelFunc // ends an SSE stream
	done            chan struct{}

	mu   sync.Mutex
	slot string // the key whose connection limit this connection counts against
	subs int
}

func newConnState(rt *realtime) *connState {
	return &connState{rt: rt, done: make(chan struct{})}
}

var _ graph.Conn = (*connState)(nil)

// connFromContext returns the WebSocket connection an operation runs on,
// nil for other transports.
func connFromContext(ctx context.Context) *connState {
	c, _ := graph.ConnFromContext(ctx).(*connState)
	return c
}

// busOf is the event bus subscriptions and credential checks listen on.
func busOf(d graph.Deps) *event.Bus {
	if d.Store == nil {
		return nil
	}
	return d.Store.Bus
}

// acquire counts the connection against its API key's limit.
func (c *connState) acquire(key string) bool {
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	if c.rt.perKey[key] >= c.rt.opts.MaxConnectionsPerKey {
		return false
	}
	c.rt.perKey[key]++
	c.mu.Lock()
	c.slot = key
	c.mu.Unlock()
	return true
}

// finish releases what the connection held. Called once, when its
// handler returns.
func (c *connState) finish() {
	close(c.done)
	c.rt.sweeper.remove(c)
	if c.ws != nil {
		c.rt.pinger.remove(c.ws)
	}
	c.mu.Lock()
	key := c.slot
	c.slot = ""
	c.mu.Unlock()
	if key == "" {
		return
	}
	c.rt.mu.Lock()
	if c.rt.perKey[key]--; c.rt.perKey[key] <= 0 {
		delete(c.rt.perKey, key)
	}
	c.rt.mu.Unlock()
}

// AddSubscription counts a subscription against MaxSubscriptionsPerConnection.
func (c *connState) AddSubscription() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs >= c.rt.opts.MaxSubscriptionsPerConnection {
		return apperr.New(apperr.CodeRateLimited, "too many subscriptions on this connection (limit %d)", c.rt.opts.MaxSubscriptionsPerConnection)
	}
	c.subs++
	return nil
}

// RemoveSubscription frees a subscription's slot.
func (c *connState) RemoveSubscription() {
	c.mu.Lock()
	c.subs--
	c.mu.Unlock()
}

// Interrupted closes the connection because a subscription may have
// missed events: 4413 for a slow consumer, 4503 for a resync.
func (c *connState) Interrupted(err error) {
	code, reason := closeResync, "resync: the event stream was interrupted; reconnect and refetch"
	if errors.Is(err, event.ErrOverflow) {
		code, reason = closeSlowConsumer, "slow consumer: too many events were waiting; reconnect and refetch"
	}
	c.close(code, reason)
}

// close ends the connection with a code (WebSocket) or ends the stream (SSE).
func (c *connState) close(code int, reason string) {
	if c.ws != nil {
		c.ws.closeWith(code, reason)
		return
	}
	if c.cancel != nil {
		c.cancel()
	}
}

// watchCredential closes the connection (4403) when its credential stops
// being valid for its workspace — an API key revoked or expired, a session
// signed out, expired or revoked, a member removed — or when the member's
// role changed (the connection runs with the old one; the client
// reconnects). Authentication happens once per connection, so this must
// bite on its own: one sweeper per server re-checks every connection every
// keyCheckInterval (once per distinct credential), and a session's
// connections hear of a change to their member at once through the
// MemberUpdated events (from any replica). No goroutine or timer per
// connection.
func (s *Server) watchCredential(c *connState, token, workspace string, v *tenant.Viewer) {
	s.rt.sweeper.add(&credential{conn: c, token: token, workspace: workspace, viewer: v})
}

// credential is what a connection authenticated with.
type credential struct {
	conn             *connState
	token, workspace string
	viewer           *tenant.Viewer
	// member hears of changes to a session's member (nil for API keys).
	member *event.Subscription
}

// sweeper re-checks the credentials of the open connections. Its goroutine
// runs while there are connections to watch.
type sweeper struct {
	auth *auth.Service
	bus  *event.Bus

	mu      sync.Mutex
	watched map[*connState]*credential
	stop    chan struct{} // closed when the last connection goes; nil when idle
	changed chan *credential
}

func (sw *sweeper) add(cr *credential) {
	if sw.auth == nil {
		return
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.watched == nil {
		sw.watched = map[*connState]*credential{}
		sw.changed = make(chan *credential, 64)
	}
	sw.watched[cr.conn] = cr
	if sw.stop == nil {
		sw.stop = make(chan struct{})
		go sw.run(sw.stop)
	}
	if user := cr.viewer.UserID; user != "" && sw.bus != nil {
		// Runs inside Publish: only hand the connection to the sweeper
		// (when its queue is full, a check is already due).
		cr.member = sw.bus.SubscribeHandler(cr.viewer.WorkspaceID,
			func(e event.Event) bool { return e.Type == event.MemberUpdated && e.ObjectID == user },
			func(event.Event) {
				select {
				case sw.changed <- cr:
				default:
				}
			}, nil)
	}
}

func (sw *sweeper) remove(c *connState) {
	sw.mu.Lock()
	cr, ok := sw.watched[c]
	if !ok {
		sw.mu.Unlock()
		return
	}
	delete(sw.watched, c)
	if len(sw.watched) == 0 && sw.stop != nil {
		close(sw.stop)
		sw.stop = nil
	}
	sw.mu.Unlock()
	if cr.member != nil {
		cr.member.Close()
	}
}

func (sw *sweeper) run(stop chan struct{}) {
	t := time.NewTicker(keyCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			sw.check(nil)
		case cr := <-sw.changed:
			// This replica's cached viewers of the member may be stale
			// when the change was made on another one.
			sw.auth.InvalidateUser(cr.viewer.UserID)
			sw.check(cr)
		}
	}
}

// check re-authenticates the open connections (or only the one given), once per
// distinct credential, and closes those whose access is gone or changed.
func (sw *sweeper) check(only *credential) {
	var crs []*credential
	if only != nil {
		crs = []*credential{only}
	} else {
		sw.mu.Lock()
		for _, cr := range sw.watched {
			crs = append(crs, cr)
		}
		sw.mu.Unlock()
	}
	type result struct {
		now *tenant.Viewer
		err error
	}
	seen := map[[2]string]result{}
	for _, cr := range crs {
		k := [2]string{cr.token, cr.workspace}
		res, ok := seen[k]
		if !ok {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res.now, res.err = sw.auth.AuthenticateBearer(ctx, cr.token, cr.workspace)
			cancel()
			seen[k] = res
		}
		v := cr.viewer
		switch {
		case errors.Is(res.err, auth.ErrInvalidKey), errors.Is(res.err, auth.ErrInvalidSession), errors.Is(res.err, auth.ErrNotMember):
			cr.conn.close(closeForbidden, "Forbidden: the credential is no longer valid for this workspace")
		case res.err == nil && (res.now.Role != v.Role || res.now.WorkspaceID != v.WorkspaceID):
			cr.conn.close(closeForbidden, "Forbidden: your role changed; reconnect")
		}
	}
}

func isWebSocket(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

func isSSE(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// serveWebSocket lets an upgrade through without an Authorization header
// (browsers cannot send one): the key comes in connection_init, checked by
// wsInit. The origin is checked first, since browsers do not apply CORS
// to WebSockets.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !OriginAllowed(r, s.deps.Realtime.AllowedOrigins) {
		writeError(w, http.StatusForbidden, apperr.CodeForbidden, "origin not allowed: add it to NEKSIO_ALLOWED_ORIGINS")
		return
	}
	conn := newConnState(s.rt)
	conn.headerKey, _ = bearer(r)
	conn.headerWorkspace = r.Header.Get(WorkspaceHeader)
	conn.addr = s.clients.Key(r)
	defer conn.finish()
	clearDeadlines(w)
	s.gql.ServeHTTP(w, r.WithContext(graph.WithConn(r.Context(), conn)))
}

// serveSSE runs one operation as a Server-Sent Events stream, without the
// request timeout (subscriptions last), counted against the key's
// connection limit.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, viewer *tenant.Viewer, key string) {
	conn := newConnState(s.rt)
	if !conn.acquire(limitKey(viewer)) {
		close(conn.done)
		writeError(w, http.StatusTooManyRequests, apperr.CodeRateLimited,
			fmt.Sprintf("too many connections for this API key (limit %d)", s.rt.opts.MaxConnectionsPerKey))
		return
	}
	defer conn.finish()
	clearDeadlines(w)
	ctx, cancel := context.WithCancel(tenant.NewContext(r.Context(), viewer))
	defer cancel()
	conn.cancel = cancel
	s.watchCredential(conn, key, r.Header.Get(WorkspaceHeader), viewer)
	if _, ok := w.(http.Flusher); !ok {
		// gqlgen's SSE transport asserts http.Flusher; middleware that
		// wraps the writer (metrics) may only offer it through Unwrap.
		w = flushWriter{w, http.NewResponseController(w)}
	}
	s.gql.ServeHTTP(w, r.WithContext(ctx))
}

// clearDeadlines lifts the read and write deadlines the HTTP server sets
// on every request (cmd/neksio): a stream lasts as long as the client
// stays. Writers that cannot set deadlines (tests) are left alone.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

type flushWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (f flushWriter) Flush()                      { _ = f.rc.Flush() }
func (f flushWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

func limitKey(v *tenant.Viewer) string {
	if v.APIKeyID != "" {
		return v.APIKeyID
	}
	return v.Actor()
}

// wsInit authenticates a WebSocket: the key in connection_init's payload
// ({"authorization": "Bearer <key>"}), else the upgrade request's header.
// On failure it returns the close code and reason.
func (s *Server) wsInit(ctx context.Context, conn *connState, payload transport.InitPayload) (context.Context, int, string) {
	fail := func(code int, reason string) (context.Context, int, string) {
		s.rt.count(code)
		return ctx, code, reason
	}
	key := bearerValue(payload.Authorization())
	if key == "" {
		key = conn.headerKey
	}
	if key == "" {
		return fail(closeUnauthorized, `Unauthorized: send {"authorization": "Bearer <key>"} in connection_init`)
	}
	if _, refused := s.throttle.Refused(conn.addr, key); refused {
		return fail(closeTryAgain, "too many failed authentications from this address, try again later")
	}
	workspace := conn.headerWorkspace
	if w, ok := payload["workspace"].(string); ok && w != "" {
		workspace = w
	}
	viewer, err := s.deps.Auth.AuthenticateBearer(ctx, key, workspace)
	switch {
	case errors.Is(err, auth.ErrInvalidKey):
		s.throttle.Failed(conn.addr, key)
		return fail(closeUnauthorized, "Unauthorized: invalid API key")
	case errors.Is(err, auth.ErrInvalidSession):
		s.throttle.Failed(conn.addr, key)
		return fail(closeUnauthorized, "Unauthorized: invalid or expired session")
	case errors.Is(err, auth.ErrNotMember):
		return fail(closeForbidden, "Forbidden: not a member of that workspace")
	case err != nil:
		s.opts.Logger.ErrorContext(ctx, "websocket authentication failed", "err", err)
		return fail(closeTryAgain, "authentication unavailable, try again later")
	}
	s.throttle.Succeeded(key)
	if !s.allow(limitKey(viewer)) {
		return fail(closeTryAgain, "rate limit exceeded, try again later")
	}
	if !conn.acquire(limitKey(viewer)) {
		return fail(closeForbidden, fmt.Sprintf("Forbidden: too many connections for this API key (limit %d)", s.rt.opts.MaxConnectionsPerKey))
	}
	s.watchCredential(conn, key, workspace, viewer)
	return tenant.NewContext(ctx, viewer), 0, ""
}

func (rt *realtime) count(code int) {
	rt.mu.Lock()
	rt.closed[code]++
	rt.mu.Unlock()
}

// bearerValue accepts "Bearer <key>" or the bare key.
func bearerValue(v string) string {
	v = strings.TrimSpace(v)
	if scheme, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(tok)
	}
	return v
}

// OriginAllowed is the one origin check of NEKSIO_ALLOWED_ORIGINS, for
// WebSockets here and CORS in the HTTP server: no Origin (not a browser) and same-origin pages always
// pass; other origins must match one of the patterns.
func OriginAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Host)
	if host == strings.ToLower(r.Host) {
		return true
	}
	full := strings.ToLower(u.Scheme) + "://" + host
	for _, p := range patterns {
		p = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), "/")
		target := host
		if strings.Contains(p, "://") {
			target = full
		}
		if p == "*" {
			return true
		}
		if ok, _ := path.Match(p, target); ok && p != "" {
			return true
		}
	}
	return false
}

// operationTimeout applies the request timeout to queries and mutations
// sent over a streaming transport (WebSocket, SSE), which run without the
// per-request deadline ServeHTTP sets; subscriptions run until closed.
func (s *Server) operationTimeout(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if _, ok := ctx.Deadline(); ok || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil {
			cancel()
		}
		return resp
	}
}
