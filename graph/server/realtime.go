package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
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
func (s *Server) wsInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	conn := connFromContext(ctx)
	fail := func(code int, reason string) (context.Context, *transport.InitPayload, error) {
		if conn != nil {
			s.rt.count(code)
		}
		ctx := transport.WithWebsocketCloseCode(ctx, code)
		return transport.AppendCloseReason(ctx, reason), nil, errors.New(reason)
	}
	if conn == nil {
		return fail(closeBadMessage, "not a Neksio connection")
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
	return tenant.NewContext(ctx, viewer), nil, nil
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

// websocket returns gqlgen's WebSocket transport, with a connection
// wrapper adding what it leaves out (see wsConn).
func (s *Server) websocket() transport.Websocket {
	return transport.Websocket{
		Implementation: wsImpl{rt: s.rt},
		InitFunc:       s.wsInit,
		// wsConn enforces the init timeout with close code 4408; gqlgen's
		// own closes with 1002.
		InitTimeout: 0,
		// No keep-alive from gqlgen, which runs a goroutine and a ticker
		// per connection for it: the server's pinger does the same for
		// every connection from one goroutine (see pinger).
		PingPongInterval:      0,
		KeepAlivePingInterval: 0,
		PayloadReadLimit:      &s.opts.MaxBodyBytes,
		ErrorFunc: func(ctx context.Context, err error) {
			s.opts.Logger.DebugContext(ctx, "websocket", "err", err)
		},
	}
}

type wsImpl struct{ rt *realtime }

func (i wsImpl) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn := connFromContext(r.Context())
	if conn == nil {
		return nil, errors.New("websocket: no connection state")
	}
	inner, err := transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{
		InsecureSkipVerify: true, // originAllowed ran in serveWebSocket
	}}.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	c := &wsConn{WebsocketConn: inner, state: conn, protocol: inner.Subprotocol(), active: map[string]struct{}{}}
	conn.ws = c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.initTimer = time.AfterFunc(i.rt.opts.InitTimeout, func() {
		c.mu.Lock()
		seen := c.initSeen
		c.mu.Unlock()
		if !seen {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	return c, nil
}

// wsConn wraps gqlgen's connection to follow the protocol where gqlgen's
// transport does not: it checks every client message before gqlgen reads
// it (4400 malformed or unexpected, 4401 subscribe before ack, 4409
// duplicate id, 4429 second connection_init), enforces the init timeout
// (4408), and lets the subscription hub close the connection with a code
// (slow consumer, resync, revoked key).
type wsConn struct {
	transport.WebsocketConn
	state     *connState
	protocol  string
	initTimer *time.Timer

	mu       sync.Mutex
	initSeen bool
	acked    bool
	// The pinger's state: a ping being written, a pong seen since the
	// last ping.
	pinging, ponged bool
	closing         bool
	active          map[string]struct{}
}

var (
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

func (c *wsConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

func (c *wsConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil {
		if c.isClosing() {
			return typ, nil, transport.ErrWebsocketClosed
		}
		return typ, r, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return typ, nil, err
	}
	if code, reason := c.check(data); code != 0 {
		c.closeWith(code, reason)
		return typ, nil, transport.ErrWebsocketClosed
	}
	return typ, bytes.NewReader(data), nil
}

type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// check returns a close code and reason for a message that breaks the
// protocol, 0 for one gqlgen may handle.
func (c *wsConn) check(data []byte) (int, string) {
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return closeBadMessage, "Invalid message received"
	}
	legacy := c.protocol != "graphql-transport-ws"
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case m.Type == "connection_init":
		if c.initSeen {
			return closeTooManyInit, "Too many initialisation requests"
		}
		c.initSeen = true
		c.initTimer.Stop()
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
			return closeBadMessage, "Invalid message received: connection_init payload must be an object"
		}
	case m.Type == "subscribe" && !legacy, m.Type == "start" && legacy:
		if !c.acked {
			return closeUnauthorized, "Unauthorized"
		}
		if m.ID == "" {
			return closeBadMessage, "Invalid message received: " + m.Type + " needs an id"
		}
		if _, dup := c.active[m.ID]; dup {
			return closeDuplicateID, truncate("Subscriber for "+m.ID+" already exists", 123)
		}
		c.active[m.ID] = struct{}{}
	case m.Type == "complete" && !legacy, m.Type == "stop" && legacy:
		delete(c.active, m.ID)
	case m.Type == "pong" && !legacy:
		c.ponged = true
	case m.Type == "ping" && !legacy, m.Type == "connection_terminate" && legacy:
	default:
		return closeBadMessage, truncate("Invalid message received: unexpected type "+m.Type, 123)
	}
	return 0, ""
}

// WriteJSON follows what the server sends: the ack opens subscriptions,
// and a completed or failed operation frees its id.
func (c *wsConn) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// Only the type and id: the payload (every event's data) is skipped,
	// not copied.
	var m struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	_ = json.Unmarshal(b, &m)
	c.mu.Lock()
	acked := false
	switch m.Type {
	case "connection_ack":
		acked = !c.acked
		c.acked = true
	case "complete", "error":
		delete(c.active, m.ID)
	}
	c.mu.Unlock()
	if err := c.WebsocketConn.WriteJSON(json.RawMessage(b)); err != nil {
		return err
	}
	if acked {
		c.state.rt.pinger.add(c)
	}
	return nil
}

// pinger keeps the acknowledged WebSockets alive as gqlgen's transport
// would with PingPongInterval and KeepAlivePingInterval, without its
// goroutine and ticker per connection: one goroutine per server, running
// while there are connections, writes every interval to each of them
// (a short-lived goroutine per write, so that a client that stops reading
// holds up only its own pings). graphql-transport-ws: a ping, and a
// client that has not answered the previous one with a pong by two
// intervals after it was due is dropped (the read deadline is moved on
// only after a pong, and a pong clears it, as in gqlgen); graphql-ws: "ka".
type pinger struct {
	interval time.Duration

	mu    sync.Mutex
	conns map[*wsConn]struct{}
	stop  chan struct{} // closed when the last connection goes; nil when idle
}

var (
	pingMessage      = json.RawMessage(`{"type":"ping"}`)
	keepAliveMessage = json.RawMessage(`{"type":"ka"}`)
)

func (p *pinger) add(c *wsConn) {
	if p.interval <= 0 {
		return
	}
	if c.protocol == "graphql-transport-ws" {
		_ = c.SetReadDeadline(time.Now().Add(2 * p.interval))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		p.conns = map[*wsConn]struct{}{}
	}
	p.conns[c] = struct{}{}
	if p.stop == nil {
		p.stop = make(chan struct{})
		go p.run(p.stop)
	}
}

func (p *pinger) remove(c *wsConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.conns[c]; !ok {
		return
	}
	delete(p.conns, c)
	if len(p.conns) == 0 && p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

func (p *pinger) run(stop chan struct{}) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var conns []*wsConn
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		conns = conns[:0]
		for c := range p.conns {
			conns = append(conns, c)
		}
		p.mu.Unlock()
		for _, c := range conns {
			c.ping(p.interval)
		}
		clear(conns)
	}
}

// ping sends the connection its keep-alive message unless the previous
// one is still being written.
func (c *wsConn) ping(interval time.Duration) {
	c.mu.Lock()
	if c.closing || c.pinging {
		c.mu.Unlock()
		return
	}
	c.pinging = true
	extend := c.ponged
	c.ponged = false
	c.mu.Unlock()
	go func() {
		msg := keepAliveMessage
		if c.protocol == "graphql-transport-ws" {
			msg = pingMessage
			if extend {
				_ = c.SetReadDeadline(time.Now().Add(2 * interval))
			}
		}
		_ = c.WebsocketConn.WriteJSON(msg)
		c.mu.Lock()
		c.pinging = false
		c.mu.Unlock()
	}()
}

// WriteClose keeps the first close code: once this wrapper has closed
// with a protocol code, gqlgen's own follow-up close (1000 or 1002) is
// dropped.
func (c *wsConn) WriteClose(code int, reason string) error {
	if !c.startClosing() {
		return nil
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

func (c *wsConn) closeWith(code int, reason string) {
	if !c.startClosing() {
		return
	}
	c.state.rt.count(code)
	_ = c.WebsocketConn.WriteClose(code, reason)
}

func (c *wsConn) startClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.closing = true
	c.initTimer.Stop()
	return true
}

func (c *wsConn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
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
