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
