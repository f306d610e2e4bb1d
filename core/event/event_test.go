package event_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/neksio/neksio/core/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ev(ws, obj string) event.Event {
	return event.Event{Type: event.MessageAdded, WorkspaceID: ws, ObjectID: obj, ConversationID: "cv_1", ChannelID: "ch_1"}
}

// A subscriber sees its own workspace's events that match its filter,
// nothing else.
func TestBusScopesByWorkspaceAndFilter(t *testing.T) {
	t.Parallel()
	bus := event.NewBus()
	all := bus.Subscribe("ws_a", 8)
	defer all.Close()
	created := bus.SubscribeFunc("ws_a", 8, func(e event.Event) bool { return e.Type == event.ConversationCreated })
	defer created.Close()
	other := bus.Subscribe("ws_b", 8)
	defer other.Close()

	bus.Publish(ev("ws_a", "m1"), event.Event{Type: event.ConversationCreated, WorkspaceID: "ws_a", ObjectID: "cv_2"}, ev("ws_c", "m2"))

	require.Len(t, all.C, 2)
	require.Equal(t, "m1", (<-all.C).ObjectID)
	require.Len(t, created.C, 1)
	require.Equal(t, "cv_2", (<-created.C).ObjectID)
	require.Empty(t, other.C, "another workspace's events never reach this subscriber")
}

// A full buffer ends that subscription with ErrOverflow; the publisher
// never blocks and the other subscribers keep every event.
func TestBusOverflowEndsOnlyTheSlowSubscriber(t *testing.T) {
	t.Parallel()
	bus := event.NewBus()
	slow := bus.Subscribe("ws_a", 2)
	defer slow.Close()
	fast := bus.Subscribe("ws_a", 100)
	defer fast.Close()

	for i := range 10 {
		bus.Publish(ev("ws_a", string(rune('a'+i))))
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber should have been ended")
	}
	require.ErrorIs(t, slow.Err(), event.ErrOverflow)
	require.True(t, slow.Overflowed())
	require.Len(t, fast.C, 10)
	require.NoError(t, fast.Err())
	require.Equal(t, 1, bus.Len())

	// Further events skip the ended subscription instead of failing again.
	bus.Publish(ev("ws_a", "z"))
	require.ErrorIs(t, slow.Err(), event.ErrOverflow)
}

func TestBusResyncAndClose(t *testing.T) {
	t.Parallel()
	bus := event.NewBus()
	a := bus.Subscribe("ws_a", 1)
	b := bus.Subscribe("ws_b", 1)
	bus.Resync()
	<-a.Done()
	<-b.Done()
	require.ErrorIs(t, a.Err(), event.ErrResync)
	require.ErrorIs(t, b.Err(), event.ErrResync)
	a.Close()
	a.Close() // idempotent
	b.Close()
	require.ErrorIs(t, a.Err(), event.ErrResync, "the first reason stays")
	require.Equal(t, 0, bus.Len())

	c := bus.Subscribe("ws_a", 1)
	c.Close()
	require.ErrorIs(t, c.Err(), event.ErrClosed)
}

func TestPayloadsChunkAndDedupe(t *testing.T) {
	t.Parallel()
	var events []event.Event
	for i := range 300 {
		events = append(events, event.Event{Type: event.MessageUpdated, WorkspaceID: "ws_01JABCDEFGHJKMNPQRSTVWXYZ0",
			ObjectID:       "ms_01JABCDEFGHJKMNPQRSTVWX" + string(rune('A'+i%26)) + string(rune('A'+i/26)),
			ConversationID: "cv_01JABCDEFGHJKMNPQRSTVWXYZ0", ChannelID: "ch_01JABCDEFGHJKMNPQRSTVWXYZ0"})
	}
	events = append(events, events[0], events[1]) // repeats are sent once
	payloads, err := event.Payloads("origin", events)
	require.NoError(t, err)
	require.Greater(t, len(payloads), 1, "300 events do not fit in one notification")
	for _, p := range payloads {
		require.Less(t, len(p), 8000, "PostgreSQL refuses payloads of 8000 bytes")
	}
	require.Len(t, event.Dedupe(events), 300)

	_, err = event.Payloads("origin", []event.Event{{Type: event.MessageAdded, ObjectID: string(make([]byte, 8000))}})
	require.Error(t, err)
}

// Handler subscriptions get their workspace's matching events on the
// publisher's goroutine, and hear once why they ended.
func TestBusHandlerSubscriptions(t *testing.T) {
	t.Parallel()
	b := event.NewBus()
	var got []string
	var ended []error
	s := b.SubscribeHandler("ws1", func(e event.Event) bool { return e.Type == event.MessageAdded },
		func(e event.Event) { got = append(got, e.ObjectID) }, func(err error) { ended = append(ended, err) })
	other := b.Subscribe("ws2", 4)
	b.Publish(event.Event{Type: event.MessageAdded, WorkspaceID: "ws1", ObjectID: "a"},
		event.Event{Type: event.MessageUpdated, WorkspaceID: "ws1", ObjectID: "b"},
		event.Event{Type: event.MessageAdded, WorkspaceID: "ws2", ObjectID: "c"})
	require.Equal(t, []string{"a"}, got)
	require.Equal(t, "c", (<-other.C).ObjectID)
	require.Equal(t, 2, b.Len())

	b.Resync()
	require.Equal(t, []error{event.ErrResync}, ended)
	require.Equal(t, 0, b.Len())
	s.Close()
	other.Close()
	require.Equal(t, []error{event.ErrResync}, ended, "ended once")
}
