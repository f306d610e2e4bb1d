package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neksio/neksio/graph"
)

// The two subprotocols, as gqlgen names them: graphql-transport-ws (the
// graphql-ws library) and the legacy subscriptions-transport-ws, which
// negotiates "graphql-ws" (and is assumed when a client names none).
const (
	protoTransportWS = "graphql-transport-ws"
	protoLegacy      = "graphql-ws"
)

// closeProtocolError and closeNormal are gqlgen's closes for what the
// protocol checks (check) leave to it: a message other than
// connection_init first, and the legacy connection_terminate.
const (
	closeProtocolError = 1002
	closeNormal        = 1000
)

// wsTransport is the WebSocket transport of /graphql, in place of gqlgen's
// transport.Websocket, whose messages, close codes and keep-alive it keeps
// (docs/realtime.md), at a fraction of the cost per connection: gqlgen's
// holds three goroutines for a connection with one subscription (the
// reader, a goroutine waiting for the connection's end, and one per
// operation waiting on the subscription's channel) whose stacks, grown by
// parsing and the first resolve, were most of a connection's memory. Here
// a connection holds one: the upgraded request's, which reads. An
// operation is started on a short-lived goroutine (parse, validate, the
// resolver), and a subscription fed by graph's follow (graph.Stream) has
// its results read, marshalled and written by a short-lived goroutine only
// when follow says one is ready; the end of the connection is watched by
// context.AfterFunc. Keep-alive is the server's pinger, credentials the
// sweeper (realtime.go): nothing per connection either.
type wsTransport struct{ s *Server }

var _ graphql.Transport = wsTransport{}

func (wsTransport) Supports(r *http.Request) bool { return isWebSocket(r) }

func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	s := t.s
	state := connFromContext(r.Context())
	if state == nil {
		transport.SendErrorf(w, http.StatusBadRequest, "unable to upgrade")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{protoLegacy, protoTransportWS},
		InsecureSkipVerify: true, // OriginAllowed ran in serveWebSocket
	})
	if err != nil {
		s.opts.Logger.DebugContext(r.Context(), "websocket: upgrade failed", "err", err)
		return // Accept answered the client
	}
	if limit := s.opts.MaxBodyBytes; limit > 0 {
		ws.SetReadLimit(limit)
	}
	ctx, cancel := context.WithCancel(r.Context())
	c := &wsConn{ws: ws, state: state, rt: s.rt, s: s, exec: exec, headers: r.Header,
		done: ctx, ctx: ctx, cancel: cancel, protocol: ws.Subprotocol(), active: map[string]*wsOp{}}
	if c.protocol == "" {
		c.protocol = protoLegacy
	}
	state.ws = c
	c.mu.Lock()
	c.initTimer = time.AfterFunc(s.rt.opts.InitTimeout, func() {
		c.mu.Lock()
		seen := c.initSeen
		c.mu.Unlock()
		if !seen {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	c.mu.Unlock()
	c.read()
}

// wsConn is one WebSocket. Its reader (the request's goroutine) checks
// every client message against the protocol before acting on it (4400
// malformed or unexpected, 4401 subscribe before ack, 4409 duplicate id,
// 4429 second connection_init), enforces the init timeout (4408), and
// lets the subscriptions and the sweeper close the connection with a code
// (slow consumer, resync, revoked credential).
type wsConn struct {
	ws       *websocket.Conn
	state    *connState
	rt       *realtime
	s        *Server
	exec     graphql.GraphExecutor
	headers  http.Header
	protocol string
	// done is the connection's context, cancelled when the reader ends,
	// which ends every operation; ctx is done with the viewer, once the
	// connection is initialised.
	done      context.Context
	ctx       context.Context
	cancel    context.CancelFunc
	initTimer *time.Timer

	mu       sync.Mutex
	initSeen bool
	acked    bool
	// The pinger's state: a ping being written, a pong seen since the
	// last ping; deadline drops a client that does not answer pings.
	pinging, ponged bool
	deadline        *time.Timer
	closing         bool
	active          map[string]*wsOp
}

type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// read is the connection's loop; it returns when the connection ends.
func (c *wsConn) read() {
	defer func() {
		c.cancel()
		c.rt.pinger.remove(c)
		c.writeClose(closeNormal, "terminated")
	}()
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			if !c.isClosing() && !isNormalClose(err) {
				c.s.opts.Logger.DebugContext(c.done, "websocket", "err", err)
			}
			return
		}
		var m wsMessage
		if code, reason := c.check(data, &m); code != 0 {
			c.closeWith(code, reason)
			return
		}
		if !c.handle(&m) {
			return
		}
	}
}

func isNormalClose(err error) bool {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
		return true
	}
	return false
}

// check decodes a client message into m and returns a close code and
// reason for one that breaks the protocol, 0 for one to handle.
func (c *wsConn) check(data []byte, m *wsMessage) (int, string) {
	if err := json.Unmarshal(data, m); err != nil || m.Type == "" {
		return closeBadMessage, "Invalid message received"
	}
	legacy := c.protocol != protoTransportWS
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
	case m.Type == "complete" && !legacy, m.Type == "stop" && legacy:
	case m.Type == "pong" && !legacy:
	case m.Type == "ping" && !legacy, m.Type == "connection_terminate" && legacy:
	default:
		return closeBadMessage, truncate("Invalid message received: unexpected type "+m.Type, 123)
	}
	return 0, ""
}

// handle acts on a checked message; false ends the connection.
func (c *wsConn) handle(m *wsMessage) bool {
	c.mu.Lock()
	acked := c.acked
	c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		return c.init(m.Payload)
	case "connection_terminate":
		c.writeClose(closeNormal, "terminated")
		return false
	}
	if !acked {
		// Before connection_ack only connection_init is expected (a
		// subscribe was refused by check).
		c.sendConnectionError("unexpected message " + m.Type)
		c.writeClose(closeProtocolError, "unexpected message")
		return false
	}
	switch m.Type {
	case "subscribe", "start":
		op := &wsOp{c: c, id: m.ID}
		op.ctx, op.cancel = context.WithCancel(c.ctx)
		c.mu.Lock()
		c.active[m.ID] = op
		c.mu.Unlock()
		// Parsing, validation and the resolver grow a stack: not the
		// reader's, which lives as long as the connection.
		go op.start(m.Payload, graphql.Now())
	case "complete", "stop":
		c.mu.Lock()
		op := c.active[m.ID]
		c.mu.Unlock()
		if op != nil {
			op.cancel()
		}
	case "ping":
		c.write(wsFrame("pong", "", m.Payload))
	case "pong":
		c.mu.Lock()
		c.ponged = true
		c.mu.Unlock()
		c.setReadDeadline(time.Time{})
	}
	return true
}

// init authenticates the connection (wsInit) and acknowledges it, or
// closes it with the code wsInit chose.
func (c *wsConn) init(payload json.RawMessage) bool {
	var p transport.InitPayload
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &p); err != nil {
			c.writeClose(closeBadMessage, "Invalid message received")
			return false
		}
	}
	ctx, code, reason := c.s.wsInit(c.ctx, c.state, p)
	if code != 0 {
		c.sendConnectionError(reason)
		c.closeCounted(code, reason)
		return false
	}
	c.mu.Lock()
	c.ctx = ctx // the viewer's context, for every operation (set and read by the reader)
	c.acked = true
	c.mu.Unlock()
	c.write(wsFrame("connection_ack", "", nil))
	if c.protocol == protoLegacy {
		c.write(keepAliveMessage)
	}
	c.rt.pinger.add(c)
	return true
}

// sendConnectionError tells a legacy client why its connection ends
// (graphql-transport-ws has no such message: the close reason says it).
func (c *wsConn) sendConnectionError(msg string) {
	if c.protocol != protoLegacy {
		return
	}
	b, _ := json.Marshal(&gqlerror.Error{Message: msg})
	c.write(wsFrame("connection_error", "", b))
}

// write sends one message; a failed write ends the connection (the reader
// sees it closed).
func (c *wsConn) write(msg []byte) {
	if err := c.ws.Write(context.Background(), websocket.MessageText, msg); err != nil && !c.isClosing() {
		c.s.opts.Logger.DebugContext(c.done, "websocket: write", "err", err)
	}
}

// wsFrame encodes a protocol message.
func wsFrame(typ, id string, payload []byte) []byte {
	b := make([]byte, 0, 32+len(id)+len(payload))
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if id != "" {
		q, _ := json.Marshal(id)
		b = append(b, `,"id":`...)
		b = append(b, q...)
	}
	if len(payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

var (
	pingMessage      = []byte(`{"type":"ping"}`)
	keepAliveMessage = []byte(`{"type":"ka"}`)
)

// writeClose starts the close handshake once (later closes are dropped,
// so the first code is the one the client sees). coder/websocket's Close
// waits for the peer's close frame: it runs on its own goroutine so that
// no caller stalls on an absent peer.
func (c *wsConn) writeClose(code int, reason string) bool {
	if !c.startClosing() {
		return false
	}
	go func() { _ = c.ws.Close(websocket.StatusCode(code), reason) }()
	return true
}

// closeWith closes with a protocol code and counts it.
func (c *wsConn) closeWith(code int, reason string) {
	if c.writeClose(code, reason) {
		c.rt.count(code)
	}
}

// closeCounted closes with a code wsInit already counted.
func (c *wsConn) closeCounted(code int, reason string) { c.writeClose(code, reason) }

func (c *wsConn) startClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.closing = true
	c.initTimer.Stop()
	if c.deadline != nil {
		c.deadline.Stop()
	}
	return true
}

func (c *wsConn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// setReadDeadline drops the connection at t unless moved or cleared (the
// zero time) before: coder/websocket has no read deadline of its own.
func (c *wsConn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline != nil {
		c.deadline.Stop()
		c.deadline = nil
	}
	if t.IsZero() || c.closing {
		return
	}
	c.deadline = time.AfterFunc(time.Until(t), func() { _ = c.ws.CloseNow() })
}

// wsOp is one operation on a connection.
type wsOp struct {
	c      *wsConn
	id     string
	ctx    context.Context // cancelled by the client's complete and the connection's end
	cancel context.CancelFunc

	mu sync.Mutex
	// rc, next and run are the dispatched operation: its context, its
	// response handler and the context to call it with; fed, that follow
	// feeds it (graph.Stream); pending the results waiting in its
	// channel, closed that the channel is closed; running, that a
	// goroutine is reading it; over, that it has ended.
	rc                         *graphql.OperationContext
	next                       graphql.ResponseHandler
	run                        context.Context
	fed, closed, running, over bool
	pending                    int
}

var _ graph.Stream = (*wsOp)(nil)

// start runs the operation as gqlgen's WebSocket transport does: parse,
// validate, dispatch; a query or mutation (or a failed subscription) is
// answered at once, a subscription fed by follow is read whenever follow
// says a result is ready.
func (o *wsOp) start(payload json.RawMessage, readStart time.Time) {
	c := o.c
	ctx := graphql.StartOperationTrace(o.ctx)
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		o.sendError(&gqlerror.Error{Message: "invalid json"})
		o.finish()
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: readStart, End: graphql.Now()}
	params.Headers = c.headers
	rc, err := c.exec.CreateOperationContext(ctx, params)
	if err != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), err)
		if errcode.GetErrorKind(err) == errcode.KindProtocol {
			o.sendError(resp.Errors...)
		} else {
			o.sendResponse(&graphql.Response{Errors: err})
		}
		o.finish()
		return
	}
	ctx = graph.WithStream(graphql.WithOperationContext(ctx, rc), o)
	var next graphql.ResponseHandler
	if !o.protect(rc, ctx, func() { next, ctx = c.exec.DispatchOperation(ctx, rc) }) {
		o.finish()
		return
	}
	o.mu.Lock()
	o.rc, o.next, o.run = rc, next, ctx
	if !o.fed {
		o.mu.Unlock()
		// A query, a mutation, or a subscription that failed (or is not
		// fed by follow): read it to its end here.
		for {
			var resp *graphql.Response
			if !o.protect(rc, ctx, func() { resp = next(ctx) }) || resp == nil {
				break
			}
			o.sendResponse(resp)
		}
		o.finish()
		return
	}
	if o.kick() {
		o.drain()
	}
}

// protect runs f, turning a panic into an error message on the operation
// (gqlgen's recover); false when f panicked.
func (o *wsOp) protect(rc *graphql.OperationContext, ctx context.Context, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			err := rc.Recover(ctx, r)
			var gqlerr *gqlerror.Error
			if !errors.As(err, &gqlerr) {
				gqlerr = &gqlerror.Error{}
				if err != nil {
					gqlerr.Message = err.Error()
				}
			}
			o.sendError(gqlerr)
			ok = false
		}
	}()
	f()
	return true
}

// Fed, Ready and Done are graph.Stream: follow feeds this operation.
func (o *wsOp) Fed() {
	o.mu.Lock()
	o.fed = true
	o.mu.Unlock()
}

func (o *wsOp) Ready() {
	o.mu.Lock()
	o.pending++
	if o.kick() {
		go o.drain()
	}
}

func (o *wsOp) Done() {
	o.mu.Lock()
	o.closed = true
	if o.kick() {
		go o.drain()
	}
}

// kick reports whether the caller is to read the operation (drain): it
// has something to read and nobody reads it. Called with o.mu held;
// releases it.
func (o *wsOp) kick() bool {
	defer o.mu.Unlock()
	if o.running || o.over || o.next == nil || (o.pending == 0 && !o.closed) {
		return false
	}
	o.running = true
	return true
}

// drain reads the results follow said are ready (none of these reads
// blocks: each has an object in the channel, or the channel is closed),
// writes them, and returns when there is nothing more; it completes the
// operation once the channel is closed and empty.
func (o *wsOp) drain() {
	for {
		o.mu.Lock()
		if o.over || (o.pending == 0 && !o.closed) {
			o.running = false
			o.mu.Unlock()
			return
		}
		if o.pending > 0 {
			o.pending--
		}
		rc, next, ctx := o.rc, o.next, o.run
		o.mu.Unlock()
		var resp *graphql.Response
		if !o.protect(rc, ctx, func() { resp = next(ctx) }) || resp == nil {
			o.finish()
			return
		}
		o.sendResponse(resp)
	}
}

// finish ends the operation once: it frees its id (before telling the
// client, who may reuse it at once) and completes it unless the
// connection is ending.
func (o *wsOp) finish() {
	o.mu.Lock()
	if o.over {
		o.mu.Unlock()
		return
	}
	o.over = true
	o.running = false
	o.mu.Unlock()
	c := o.c
	c.mu.Lock()
	if c.active[o.id] == o {
		delete(c.active, o.id)
	}
	c.mu.Unlock()
	if c.done.Err() == nil {
		c.write(wsFrame("complete", o.id, nil))
	}
	o.cancel()
}

func (o *wsOp) sendResponse(resp *graphql.Response) {
	typ := "next"
	if o.c.protocol == protoLegacy {
		typ = "data"
	}
	o.c.write(wsFrame(typ, o.id, marshalResponse(resp)))
}

func (o *wsOp) sendError(errs ...*gqlerror.Error) {
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err)
	}
	o.c.write(wsFrame("error", o.id, b))
	// An error ends the operation: its id is free.
	o.c.mu.Lock()
	if o.c.active[o.id] == o {
		delete(o.c.active, o.id)
	}
	o.c.mu.Unlock()
}

// marshalResponse encodes a response as gqlgen's transport does, without
// encoding/json for the common case of data alone (every event).
func marshalResponse(resp *graphql.Response) []byte {
	if len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && resp.Extensions == nil {
		data := []byte(resp.Data)
		if len(data) == 0 {
			data = []byte("null")
		}
		b := make([]byte, 0, len(data)+9)
		b = append(b, `{"data":`...)
		b = append(b, data...)
		return append(b, '}')
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err)
	}
	return b
}

// pinger keeps the acknowledged WebSockets alive without a goroutine or
// ticker per connection: one goroutine per server, running while there
// are connections, writes every interval to each of them (a short-lived
// goroutine per write, so that a client that stops reading holds up only
// its own pings). graphql-transport-ws: a ping, and a client that has not
// answered the previous one with a pong by two intervals after it was due
// is dropped (the read deadline is moved on only after a pong, and a pong
// clears it, as in gqlgen); graphql-ws: "ka".
type pinger struct {
	interval time.Duration

	mu    sync.Mutex
	conns map[*wsConn]struct{}
	stop  chan struct{} // closed when the last connection goes; nil when idle
}

func (p *pinger) add(c *wsConn) {
	if p.interval <= 0 {
		return
	}
	if c.protocol == protoTransportWS {
		c.setReadDeadline(time.Now().Add(2 * p.interval))
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
		if c.protocol == protoTransportWS {
			msg = pingMessage
			if extend {
				c.setReadDeadline(time.Now().Add(2 * interval))
			}
		}
		c.write(msg)
		c.mu.Lock()
		c.pinging = false
		c.mu.Unlock()
	}()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
