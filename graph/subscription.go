package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"entgo.io/ent/privacy"
	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/sync/singleflight"

	"github.com/neksio/neksio/core/apperr"
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

func (o *RealtimeOptions) defaults() {
	if o.InitTimeout <= 0 {
		o.InitTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.MaxSubscriptionsPerConnection <= 0 {
		o.MaxSubscriptionsPerConnection = 100
	}
	if o.MaxConnectionsPerKey <= 0 {
		o.MaxConnectionsPerKey = 100
	}
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
}

// loadTimeout bounds the re-read of one changed object.
const loadTimeout = 10 * time.Second

// follow is the one place subscription channels are fed from. It
// subscribes to the viewer's workspace on the event bus (events matching
// match only, so unrelated traffic never fills the buffer), re-reads each
// changed object through the subscriber's own viewer — privacy policies
// apply exactly as for a query; an object the viewer cannot see is
// skipped — and sends it. A subscription that may have missed events is
// ended with the reason: on a WebSocket the connection is closed with a
// code, on SSE the stream ends with a RESYNC error.
func follow[T any](ctx context.Context, r *Resolver, match func(event.Event) bool, load func(ctx context.Context, id pulid.ID) (T, error)) (<-chan T, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	if v.WorkspaceID == "" {
		return nil, tenant.ErrForbidden
	}
	conn := connFromContext(ctx)
	if conn != nil {
		if err := conn.addSubscription(); err != nil {
			return nil, err
		}
	}
	sub := r.deps.Store.Bus.SubscribeFunc(v.WorkspaceID, r.deps.Realtime.Buffer, match)
	op := opStateFromContext(ctx)
	out := make(chan T)
	go func() {
		defer close(out)
		defer sub.Close()
		if conn != nil {
			defer conn.removeSubscription()
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Done():
				r.ended(ctx, conn, op, sub.Err())
				return
			case ev := <-sub.C:
				obj, err := sharedLoad(ctx, r.shared, ev, v.WorkspaceID, load)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					if ent.IsNotFound(err) || errors.Is(err, privacy.Deny) {
						continue // deleted since, or not the viewer's to see
					}
					slog.ErrorContext(ctx, "subscription: re-reading a changed object", "type", ev.Type, "id", ev.ObjectID, "err", err)
					r.ended(ctx, conn, op, event.ErrResync)
					return
				}
				select {
				case out <- obj:
				case <-ctx.Done():
					return
				case <-sub.Done():
					r.ended(ctx, conn, op, sub.Err())
					return
				}
			}
		}
	}()
	return out, nil
}

// ended tells the client its subscription may have missed events.
func (r *Resolver) ended(ctx context.Context, conn *connState, op *opState, err error) {
	if errors.Is(err, event.ErrClosed) || ctx.Err() != nil {
		return
	}
	if conn != nil {
		code, reason := closeResync, "resync: the event stream was interrupted; reconnect and refetch"
		if errors.Is(err, event.ErrOverflow) {
			code, reason = closeSlowConsumer, "slow consumer: too many events were waiting; reconnect and refetch"
		}
		conn.close(code, reason)
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

// aroundSubscriptions gives each subscription an opState and turns the
// end of a stream that missed events into a final RESYNC error, so an SSE
// client is told rather than seeing a normal completion.
func aroundSubscriptions(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
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

// sharedLoads runs each (event, workspace, type) re-read once, however many
// subscribers of that workspace follow the event: tenant policies depend on
// the workspace alone, so they would all read the same thing. With 10,000
// subscribers this is one query per event instead of 10,000.
type sharedLoads struct {
	group singleflight.Group
	done  *lru.Cache[string, sharedResult]
}

type sharedResult struct {
	obj any
	err error
}

func newSharedLoads() *sharedLoads {
	c, _ := lru.New[string, sharedResult](4096)
	return &sharedLoads{done: c}
}

func sharedLoad[T any](ctx context.Context, s *sharedLoads, ev event.Event, workspaceID string, load func(context.Context, pulid.ID) (T, error)) (T, error) {
	run := func(ctx context.Context) (T, error) {
		lctx, cancel := context.WithTimeout(ctx, loadTimeout)
		defer cancel()
		return load(lctx, pulid.ID(ev.ObjectID))
	}
	if s == nil || ev.Seq == 0 {
		return run(ctx)
	}
	var zero T
	key := fmt.Sprintf("%d|%s|%T", ev.Seq, workspaceID, zero)
	if r, ok := s.done.Get(key); ok {
		obj, _ := r.obj.(T)
		return obj, r.err
	}
	// The first subscriber's viewer reads for all of the workspace; its
	// cancellation must not fail the others.
	v, err, _ := s.group.Do(key, func() (any, error) {
		if r, ok := s.done.Get(key); ok {
			return r.obj, r.err
		}
		obj, err := run(context.WithoutCancel(ctx))
		s.done.Add(key, sharedResult{obj: obj, err: err})
		return obj, err
	})
	obj, _ := v.(T)
	return obj, err
}
