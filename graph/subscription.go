package graph

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/privacy"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// RealtimeOptions configure subscriptions and their transports. Zero
// values take the defaults below (docs/realtime.md lists the settings).
type RealtimeOptions struct {
	// AllowedOrigins lists the browser origins allowed to open a WebSocket:
	// host patterns ("app.example.com", "*.example.com"), full origins
	// ("https://app.example.com") or "*". Empty: only same-origin pages;
	// clients that send no Origin (servers, CLIs, mobile apps) are always
	// allowed, since the API key, not a cookie, authenticates them.
	AllowedOrigins []string
	// InitTimeout is how long a WebSocket may wait before connection_init
	// (default 10s, then close 4408).
	InitTimeout time.Duration
	// PingInterval is the keep-alive period: graphql-transport-ws pings
	// (a client that misses two is dropped), graphql-ws "ka" messages, SSE
	// comments (default 25s, under common proxy idle timeouts).
	PingInterval time.Duration
	// MaxSubscriptionsPerConnection bounds the operations one WebSocket
	// runs at once (default 100).
	MaxSubscriptionsPerConnection int
	// MaxConnectionsPerKey bounds the WebSockets and SSE streams one API
	// key holds open at once, per replica (default 100).
	MaxConnectionsPerKey int
	// Buffer is how many events may wait for one subscriber before it is
	// ended as a slow consumer (default 256).
	Buffer int
}

// SetDefaults fills the zero values from config.Default().
func (o *RealtimeOptions) SetDefaults() {
	d := config.Default() // the one list of defaults (README, configuration table)
	if o.InitTimeout <= 0 {
		o.InitTimeout = d.RealtimeInitTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = d.RealtimePingInterval
	}
	if o.MaxSubscriptionsPerConnection <= 0 {
		o.MaxSubscriptionsPerConnection = d.RealtimeMaxSubscriptionsPerConn
	}
	if o.MaxConnectionsPerKey <= 0 {
		o.MaxConnectionsPerKey = d.RealtimeMaxConnectionsPerKey
	}
	if o.Buffer <= 0 {
		o.Buffer = d.RealtimeBuffer
	}
}

// loadTimeout bounds the re-read of one changed object.
const loadTimeout = 10 * time.Second

// follow is the one place subscription channels are fed from. It
// registers a listener for the viewer's workspace with the hub (events
// matching match only, so unrelated traffic never fills the buffer); the
// workspace's feed re-reads each changed object through a subscriber's
// own viewer — privacy policies apply exactly as for a query; an object
// the viewer cannot see is skipped — and puts it straight into the
// channel gqlgen reads, a buffer of Realtime.Buffer objects: no goroutine
// per subscription. keep, when set, drops objects this subscriber does not
// want (checked per subscriber, after the shared re-read). A subscription
// that may have missed events is ended with the reason: on a WebSocket the
// connection is closed with a code, on SSE the stream ends with a RESYNC
// error.
func follow[T any](ctx context.Context, r *Resolver, match func(event.Event) bool, load func(ctx context.Context, id pulid.ID) (T, error)) (<-chan T, error) {
	return followKept(ctx, r, match, load, nil)
}

// followKept is follow with a per-subscriber filter on the re-read objects.
func followKept[T any](ctx context.Context, r *Resolver, match func(event.Event) bool, load func(ctx context.Context, id pulid.ID) (T, error), keep func(T) bool) (<-chan T, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	if v.WorkspaceID == "" {
		return nil, tenant.ErrForbidden
	}
	conn := ConnFromContext(ctx)
	if conn != nil {
		if err := conn.AddSubscription(); err != nil {
			return nil, err
		}
	}
	l := &listener[T]{ctx: ctx, r: r, conn: conn, op: opStateFromContext(ctx), load: load, keep: keep,
		out: make(chan T, r.deps.Realtime.Buffer), stream: streamFromContext(ctx)}
	if l.stream != nil {
		l.stream.Fed()
	}
	r.hub.add(v.WorkspaceID, l, match)
	// No goroutine waits for the end: the hub drops the listener when the
	// operation's context ends (client complete, connection closed).
	context.AfterFunc(ctx, func() { l.stop(event.ErrClosed) })
	return l.out, nil
}

// listener is one subscription, fed by its workspace's feed.
type listener[T any] struct {
	ctx  context.Context
	r    *Resolver
	conn Conn
	op   *opState
	load func(ctx context.Context, id pulid.ID) (T, error)
	keep func(T) bool
	out  chan T
	// stream, when the transport gave one, is told of each object and of
	// the close (see Stream).
	stream Stream
	link
}

// kind keys the shared re-read: listeners reading the same Go type read
// the same object.
func (l *listener[T]) kind() reflect.Type { return reflect.TypeFor[T]() }

func (l *listener[T]) read(ev event.Event) (any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), loadTimeout)
	defer cancel()
	return l.load(ctx, pulid.ID(ev.ObjectID))
}

// deliver puts obj in the buffer without blocking; a full buffer ends the
// subscription as a slow consumer.
func (l *listener[T]) deliver(obj any) {
	o, _ := obj.(T)
	if l.keep != nil && !l.keep(o) {
		return
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	select {
	case l.out <- o:
		l.mu.Unlock()
		if l.stream != nil {
			l.stream.Ready()
		}
	default:
		l.mu.Unlock()
		l.stop(event.ErrOverflow)
	}
}

// backlog is how many objects wait in the buffer, and room its size.
func (l *listener[T]) backlog() int { return len(l.out) }
func (l *listener[T]) room() int    { return cap(l.out) }

// stop ends the subscription once: it leaves the hub, frees its slot on
// the connection, tells the client why when it may have missed events,
// and closes the channel so gqlgen completes the operation.
func (l *listener[T]) stop(err error) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	sub := l.sub
	l.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
	l.r.hub.remove(l.fd)
	if l.conn != nil {
		l.conn.RemoveSubscription()
	}
	l.r.ended(l.ctx, l.conn, l.op, err)
	l.mu.Lock()
	close(l.out)
	l.mu.Unlock()
	if l.stream != nil {
		l.stream.Done()
	}
}

// ended tells the client its subscription may have missed events.
func (r *Resolver) ended(ctx context.Context, conn Conn, op *opState, err error) {
	if errors.Is(err, event.ErrClosed) || ctx.Err() != nil {
		return
	}
	if conn != nil {
		conn.Interrupted(err)
		return
	}
	if op != nil {
		op.fail(err)
	}
}

// filter checks the optional filter IDs of a subscription: another
// workspace's (or an unknown) ID answers NOT_FOUND, like everywhere else.
func (r *Resolver) filter(ctx context.Context, conversationID, channelID *pulid.ID) error {
	if channelID != nil {
		ok, err := r.deps.Store.Ent.Channel.Query().Where(entchannel.ID(*channelID)).Exist(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.NotFound("channel")
		}
	}
	if conversationID != nil {
		ok, err := r.deps.Store.Ent.Conversation.Query().Where(conversation.ID(*conversationID)).Exist(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.NotFound("conversation")
		}
	}
	return nil
}

// matcher returns the bus filter for events of type t, optionally limited
// to one conversation and one channel.
func matcher(t event.Type, conversationID, channelID *pulid.ID) func(event.Event) bool {
	return func(e event.Event) bool {
		return e.Type == t &&
			(conversationID == nil || e.ConversationID == string(*conversationID)) &&
			(channelID == nil || e.ChannelID == string(*channelID))
	}
}

func (r *Resolver) followConversations(ctx context.Context, t event.Type, channelID *pulid.ID) (<-chan *ent.Conversation, error) {
	if err := r.filter(ctx, nil, channelID); err != nil {
		return nil, err
	}
	return follow(ctx, r, matcher(t, nil, channelID), func(ctx context.Context, id pulid.ID) (*ent.Conversation, error) {
		return r.deps.Store.Ent.Conversation.Get(ctx, id)
	})
}

func (r *Resolver) followMessages(ctx context.Context, t event.Type, conversationID, channelID *pulid.ID) (<-chan *ent.Message, error) {
	if err := r.filter(ctx, conversationID, channelID); err != nil {
		return nil, err
	}
	return follow(ctx, r, matcher(t, conversationID, channelID), func(ctx context.Context, id pulid.ID) (*ent.Message, error) {
		return r.deps.Store.Ent.Message.Get(ctx, id)
	})
}

// opState carries a subscription's end reason from its feeding goroutine
// to the response stream (SSE has no close codes: the stream ends with an
// error instead).
type opState struct {
	mu  sync.Mutex
	err error
}

func (o *opState) fail(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

func (o *opState) take() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.err
	o.err = nil
	return err
}

type opStateKey struct{}

func opStateFromContext(ctx context.Context) *opState {
	o, _ := ctx.Value(opStateKey{}).(*opState)
	return o
}

// AroundSubscriptions gives each subscription an opState and turns the
// end of a stream that missed events into a final RESYNC error, so an SSE
// client is told rather than seeing a normal completion.
func AroundSubscriptions(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	op := &opState{}
	h := next(context.WithValue(ctx, opStateKey{}, op))
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp != nil {
			return resp
		}
		if err := op.take(); err != nil {
			reason := "stream_interrupted"
			msg := "the event stream was interrupted and events may have been missed: resubscribe and refetch"
			if errors.Is(err, event.ErrOverflow) {
				reason = "slow_consumer"
				msg = "too many events were waiting for this subscriber: resubscribe and refetch"
			}
			return &graphql.Response{Errors: gqlerror.List{{
				Message:    msg,
				Extensions: map[string]any{"code": "RESYNC", "reason": reason},
			}}}
		}
		return nil
	}
}

// follower is a listener of any object type, as the hub sees it.
type follower interface {
	kind() reflect.Type
	read(event.Event) (any, error)
	deliver(obj any)
	stop(err error)
	backlog() int
	room() int
	base() *link
}

// link is a listener's state the hub shares: its bus subscription, its
// workspace's feed, and how many events wait for it in the feed.
type link struct {
	sub     *event.Subscription
	fd      *feed
	pending atomic.Int64
	mu      sync.Mutex
	stopped bool
}

func (l *link) base() *link { return l }

// hub feeds every subscription of this server from the event bus without
// a goroutine per subscription. Each subscription is a handler on the bus
// (filtered there, so unrelated traffic costs nothing); a matching event
// joins its workspace's queue, and one goroutine per workspace that has
// subscribers (a feed) re-reads the changed object once per event and
// object type — tenant policies depend on the workspace alone, so every
// subscriber of the workspace would read the same thing: with 10,000
// subscribers this is one query per event instead of 10,000 — and puts it
// in each matching subscriber's buffer without blocking. A subscriber
// with Realtime.Buffer events waiting (queued or buffered) is ended as a
// slow consumer.
type hub struct {
	bus *event.Bus

	mu    sync.Mutex
	feeds map[string]*feed
}

func newHub(bus *event.Bus) *hub { return &hub{bus: bus, feeds: map[string]*feed{}} }

// feed is one workspace's queue of events and their followers.
type feed struct {
	workspaceID string
	followers   int // guarded by hub.mu

	mu    sync.Mutex
	queue []batch
	wake  chan struct{}
}

// batch is one event and the followers it matched, or (stop != nil) a
// follower to end.
type batch struct {
	ev   event.Event
	fs   []follower
	stop follower
	err  error
}

func (h *hub) add(workspaceID string, f follower, match func(event.Event) bool) {
	h.mu.Lock()
	fd := h.feeds[workspaceID]
	if fd == nil {
		fd = &feed{workspaceID: workspaceID, wake: make(chan struct{}, 1)}
		h.feeds[workspaceID] = fd
		go h.run(fd)
	}
	fd.followers++
	h.mu.Unlock()
	l := f.base()
	l.fd = fd
	// The handlers run inside Publish: they only queue.
	sub := h.bus.SubscribeHandler(workspaceID, match,
		func(ev event.Event) { fd.enqueue(ev, f) },
		func(err error) {
			if !errors.Is(err, event.ErrClosed) {
				fd.push(batch{stop: f, err: err})
			}
		})
	l.mu.Lock()
	l.sub = sub
	stopped := l.stopped
	l.mu.Unlock()
	if stopped {
		sub.Close()
	}
}

// remove counts a follower out of its feed; the feed's goroutine ends
// with the last one.
func (h *hub) remove(fd *feed) {
	h.mu.Lock()
	fd.followers--
	if fd.followers == 0 && h.feeds[fd.workspaceID] == fd {
		delete(h.feeds, fd.workspaceID)
	}
	h.mu.Unlock()
	fd.signal()
}

func (fd *feed) signal() {
	select {
	case fd.wake <- struct{}{}:
	default:
	}
}

func (fd *feed) push(b batch) {
	fd.mu.Lock()
	fd.queue = append(fd.queue, b)
	fd.mu.Unlock()
	fd.signal()
}

// enqueue adds f to the batch of ev (Publish visits a workspace's
// subscribers one event at a time), or ends f as a slow consumer when
// Realtime.Buffer events already wait for it.
func (fd *feed) enqueue(ev event.Event, f follower) {
	l := f.base()
	if int(l.pending.Load())+f.backlog() >= f.room() {
		fd.push(batch{stop: f, err: event.ErrOverflow})
		return
	}
	l.pending.Add(1)
	fd.mu.Lock()
	if n := len(fd.queue); n > 0 && fd.queue[n-1].stop == nil && fd.queue[n-1].ev.Seq == ev.Seq {
		fd.queue[n-1].fs = append(fd.queue[n-1].fs, f)
	} else {
		fd.queue = append(fd.queue, batch{ev: ev, fs: []follower{f}})
	}
	fd.mu.Unlock()
	fd.signal()
}

// run works through a feed's queue until its last follower is gone.
func (h *hub) run(fd *feed) {
	for range fd.wake {
		for {
			fd.mu.Lock()
			q := fd.queue
			fd.queue = nil
			fd.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, b := range q {
				if b.stop != nil {
					b.stop.stop(b.err)
					continue
				}
				h.dispatch(b.ev, b.fs)
			}
		}
		h.mu.Lock()
		gone := fd.followers == 0
		h.mu.Unlock()
		if gone {
			return
		}
	}
}

type readResult struct {
	obj any
	err error
}

// dispatch re-reads ev's object once per object type, through the viewer
// of the first follower that wants it, and delivers it to each follower.
func (h *hub) dispatch(ev event.Event, followers []follower) {
	var read map[reflect.Type]readResult
	for _, f := range followers {
		f.base().pending.Add(-1)
		k := f.kind()
		res, ok := read[k]
		if !ok {
			obj, err := f.read(ev)
			res = readResult{obj, err}
			if read == nil {
				read = map[reflect.Type]readResult{}
			}
			read[k] = res
			if err != nil && !ent.IsNotFound(err) && !errors.Is(err, privacy.Deny) {
				slog.Error("subscription: re-reading a changed object", "type", ev.Type, "id", ev.ObjectID, "err", err)
			}
		}
		switch {
		case res.err == nil:
			f.deliver(res.obj)
		case ent.IsNotFound(res.err) || errors.Is(res.err, privacy.Deny):
			// deleted since, or not the viewer's to see
		default:
			f.stop(event.ErrResync)
		}
	}
}

func (d Deps) bus() *event.Bus {
	if d.Store == nil {
		return nil
	}
	return d.Store.Bus
}
