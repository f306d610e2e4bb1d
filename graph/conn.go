package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/neksio/neksio/graph/generated"
)

// Conn is the contract between the subscriptions (follow) and the
// transport an operation runs on: graph/server puts a Conn in the context
// of every operation of a WebSocket (WithConn); other transports (SSE,
// HTTP) put none. It is here, not in the transport, so that graph never
// imports graph/server (which imports graph to build the schema).
type Conn interface {
	// AddSubscription counts a subscription against the connection's
	// limit; the error (RATE_LIMITED) refuses the subscription.
	AddSubscription() error
	// RemoveSubscription frees the slot of a subscription that ended.
	RemoveSubscription()
	// Interrupted ends the connection because a subscription on it may
	// have missed events: err is event.ErrOverflow (a slow consumer) or
	// another error of the event stream (resync); the transport tells the
	// client with a close code (docs/realtime.md).
	Interrupted(err error)
}

// Stream lets a transport run a subscription without a goroutine waiting
// on its channel: graph/server's WebSocket puts one in each operation's
// context (WithStream) and reads the subscription's response handler only
// when told that it will not block. follow calls Fed once (the stream is
// its), Ready after each object it puts in the channel, and Done after
// closing it. A subscription that never calls Fed is read the usual way.
type Stream interface {
	Fed()
	Ready()
	Done()
}

type streamKey struct{}

// WithStream returns ctx carrying the stream of the operation it runs.
func WithStream(ctx context.Context, s Stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}

func streamFromContext(ctx context.Context) Stream {
	s, _ := ctx.Value(streamKey{}).(Stream)
	return s
}

type connKey struct{}

// WithConn returns ctx carrying the connection its operations run on.
func WithConn(ctx context.Context, c Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// ConnFromContext returns the connection an operation runs on, nil for
// transports without one (SSE, HTTP).
func ConnFromContext(ctx context.Context) Conn {
	c, _ := ctx.Value(connKey{}).(Conn)
	return c
}

// NewExecutableSchema wires the resolvers to the generated schema: what a
// transport (graph/server) executes operations on.
func NewExecutableSchema(deps Deps) graphql.ExecutableSchema {
	deps.Realtime.SetDefaults()
	return generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{deps: deps, hub: newHub(deps.bus())}})
}
