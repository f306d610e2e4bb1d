// Package event carries change events from the transaction that made a
// change to the subscriptions that follow it. Events are recorded in the
// writing transaction and published only after it commits, so a rolled-back
// change emits nothing. On SQLite the bus is in-process; on PostgreSQL the
// same events travel through pg_notify so every API replica hears them.
package event

import (
	"sync"
)

// Type of change.
type Type string

const (
	ConversationCreated Type = "conversation.created"
	ConversationUpdated Type = "conversation.updated"
	MessageAdded        Type = "message.added"
	MessageUpdated      Type = "message.updated"
	ChannelUpdated      Type = "channel.updated"
)

// Event names what changed, never its content: subscribers re-read the
// object through their own tenant policy before sending it.
type Event struct {
	Type           Type   `json:"t"`
	WorkspaceID    string `json:"w"`
	ObjectID       string `json:"o"`
	ConversationID string `json:"c,omitempty"`
	ChannelID      string `json:"ch,omitempty"`
}

// Bus fans events out to in-process subscribers. Publish never blocks: a
// subscriber whose buffer is full misses the event and is told through
// its Dropped counter, so one slow consumer cannot stall ingestion.
type Bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Subscription receives events of one workspace.
type Subscription struct {
	C           chan Event
	workspaceID string
	bus         *Bus
	mu          sync.Mutex
	overflowed  bool
}

// Overflowed reports whether the subscription missed events because its
// buffer was full.
func (s *Subscription) Overflowed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overflowed
}

// Close stops delivery.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}

// Subscribe returns a subscription to a workspace's events with a buffer
// of size buf.
func (b *Bus) Subscribe(workspaceID string, buf int) *Subscription {
	s := &Subscription{C: make(chan Event, buf), workspaceID: workspaceID, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Publish delivers events to the subscribers of their workspaces.
func (b *Bus) Publish(events ...Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, ev := range events {
		for s := range b.subs {
			if s.workspaceID != ev.WorkspaceID {
				continue
			}
			select {
			case s.C <- ev:
			default:
				s.mu.Lock()
				s.overflowed = true
				s.mu.Unlock()
			}
		}
	}
}
