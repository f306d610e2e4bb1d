package server

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/graph"
)

// A WebSocket holds one goroutine, its reader, however many subscriptions
// it runs: no goroutine per subscription, none waiting for the
// connection's end, none for keep-alive (the server's pinger) or
// credential checks (the sweeper). docs/realtime.md, "What a subscription
// costs"; the bench's memory per connection depends on it.
func TestWebSocketHoldsOneGoroutine(t *testing.T) {
	b := setupRT(t, storetest.SQLite, withRealtime(func(o *graph.RealtimeOptions) { o.MaxConnectionsPerKey = 1000 }))
	// A first connection starts the server-wide goroutines (pinger,
	// sweeper, the workspace's feed).
	first := b.dial(t, "graphql-transport-ws")
	first.init(b.key)
	first.subscribe("1", qMsgAdded, nil)
	require.Eventually(t, func() bool { return b.store.Bus.Len() == 1 }, wait, 5*time.Millisecond)
	settled := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settled()
	const conns, subs = 40, 3
	for range conns {
		c := b.dial(t, "graphql-transport-ws")
		c.init(b.key)
		for i := range subs {
			c.subscribe(string(rune('a'+i)), qMsgAdded, nil)
		}
	}
	require.Eventually(t, func() bool { return b.store.Bus.Len() == 1+conns*subs }, wait, 5*time.Millisecond)
	// Operations start on short-lived goroutines: wait for them to end.
	// (The client side of these connections, in this process, holds no
	// goroutine while it does not read.)
	// A few goroutines of the test process come and go: a constant
	// slack, against 3 per connection with gqlgen's transport.
	require.Eventually(t, func() bool { return settled()-before <= conns+5 }, wait, 10*time.Millisecond,
		"goroutines: %d more for %d connections with %d subscriptions each", settled()-before, conns, subs)
}
