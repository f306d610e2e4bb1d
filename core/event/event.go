package event

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Type of change.
type Type string

const (
	ConversationCreated Type = "conversation.created"
	ConversationUpdated Type = "conversation.updated"
	MessageAdded        Type = "message.added"
	MessageUpdated      Type = "message.updated"
	ChannelUpdated      Type = "channel.updated"
	PostUpdated         Type = "post.updated"
	// ConversationAssigned: a conversation was given to a member
	// (AssigneeID).
	ConversationAssigned Type = "conversation.assigned"
	// MemberUpdated: a member's role changed or they were removed;
	// ObjectID is the user. Their open connections re-check their access.
	MemberUpdated Type = "member.updated"
)

// Event names what changed, never its content: subscribers re-read the
// object through their own tenant policy before sending it.
type Event struct {
	Type           Type   `json:"t"`
	WorkspaceID    string `json:"w"`
	ObjectID       string `json:"o"`
	ConversationID string `json:"c,omitempty"`
	ChannelID      string `json:"ch,omitempty"`
	// AssigneeID is the member a ConversationAssigned event gave the
	// conversation to. The conversation a subscriber re-reads may have
	// been given to someone else since; the event says whose assignment
	// it was.
	AssigneeID string `json:"a,omitempty"`
	// Seq numbers the event on this process's bus (set by Publish), so
	// subscribers can share the work each event causes.
	Seq uint64 `json:"-"`
}

// Why a subscription ended. Both mean the subscriber may have missed
// events and must refetch what it shows.
var (
	// ErrOverflow: the subscriber did not keep up and its buffer filled.
	ErrOverflow = errors.New("event: subscriber too slow, buffer overflowed")
	// ErrResync: the replica's event stream was interrupted (the database
	// listener lost its connection).
	ErrResync = errors.New("event: event stream interrupted, events may have been missed")
	// ErrClosed: the subscriber closed the subscription itself.
	ErrClosed = errors.New("event: subscription closed")
)

// Bus fans events out to in-process subscribers. Publish never blocks: a
// subscriber whose buffer is full is ended with ErrOverflow, so one slow
// consumer cannot stall ingestion or other subscribers.
type Bus struct {
	mu sync.RWMutex
	// subs indexes subscriptions by workspace, so an event is matched
	// against its workspace's subscribers only.
	subs map[string]map[*Subscription]struct{}
	seq  atomic.Uint64
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[string]map[*Subscription]struct{}{}} }

// Subscription receives the events of one workspace that match its filter.
// Read C until Done is closed; Err then says why.
type Subscription struct {
	C           chan Event
	workspaceID string
	// handle and ended replace C for SubscribeHandler.
	handle func(Event)
	ended  func(error)
	match  func(Event) bool
	bus    *Bus
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	err    error
}

// Done is closed when the subscription ends (overflow, resync, Close).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is why the subscription ended, nil while it is live.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Overflowed reports whether the subscription missed events because its
// buffer was full.
func (s *Subscription) Overflowed() bool { return errors.Is(s.Err(), ErrOverflow) }

// end records why the subscription stopped and wakes its reader. It never
// takes the bus lock, so Publish may call it.
func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
		if s.ended != nil {
			s.ended(err)
		}
	})
}

// Close stops delivery. It is safe to call more than once.
func (s *Subscription) Close() {
	s.end(ErrClosed)
	b := s.bus
	b.mu.Lock()
	if ws := b.subs[s.workspaceID]; ws != nil {
		delete(ws, s)
		if len(ws) == 0 {
			delete(b.subs, s.workspaceID)
		}
	}
	b.mu.Unlock()
}

// Subscribe returns a subscription to all of a workspace's events with a
// buffer of size buf.
func (b *Bus) Subscribe(workspaceID string, buf int) *Subscription {
	return b.SubscribeFunc(workspaceID, buf, nil)
}

// SubscribeFunc returns a subscription to the events of a workspace for
// which match returns true (all of them when match is nil). Filtering here
// rather than in the reader keeps unrelated events out of a bounded
// buffer. match runs on the publisher's goroutine: it must be quick and
// must not block.
func (b *Bus) SubscribeFunc(workspaceID string, buf int, match func(Event) bool) *Subscription {
	s := &Subscription{C: make(chan Event, max(buf, 1)), workspaceID: workspaceID, match: match, bus: b, done: make(chan struct{})}
	b.add(s)
	return s
}

// SubscribeHandler is SubscribeFunc without a channel: handle receives
// each matching event, and ended why the subscription ended (ErrResync, or
// ErrClosed from Close). Both run on the publisher's goroutine with the
// bus locked: they must be quick, must not block and must not call the
// bus (hand the work to another goroutine). A handler subscriber bounds
// its own backlog.
func (b *Bus) SubscribeHandler(workspaceID string, match func(Event) bool, handle func(Event), ended func(error)) *Subscription {
	s := &Subscription{workspaceID: workspaceID, match: match, handle: handle, ended: ended, bus: b, done: make(chan struct{})}
	b.add(s)
	return s
}

func (b *Bus) add(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ws := b.subs[s.workspaceID]
	if ws == nil {
		ws = map[*Subscription]struct{}{}
		b.subs[s.workspaceID] = ws
	}
	ws[s] = struct{}{}
}

// Len is the number of live subscriptions (for metrics and tests).
func (b *Bus) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for s := range b.each {
		if s.Err() == nil {
			n++
		}
	}
	return n
}

// each yields every subscription; the caller holds b.mu.
func (b *Bus) each(yield func(*Subscription) bool) {
	for _, ws := range b.subs {
		for s := range ws {
			if !yield(s) {
				return
			}
		}
	}
}

// Publish delivers events to the subscribers of their workspaces. It never
// blocks: a subscriber with a full buffer is ended with ErrOverflow.
func (b *Bus) Publish(events ...Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, ev := range events {
		ev.Seq = b.seq.Add(1)
		for s := range b.subs[ev.WorkspaceID] {
			s.deliver(ev)
		}
	}
}

// deliver hands ev to the subscriber if it matches, ending a subscriber
// whose buffer is full.
func (s *Subscription) deliver(ev Event) {
	if s.match != nil && !s.match(ev) {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	if s.handle != nil {
		s.handle(ev)
		return
	}
	select {
	case s.C <- ev:
	default:
		s.end(ErrOverflow)
	}
}

// Resync ends every live subscription with ErrResync: events may have been
// lost, and their subscribers must reconnect and refetch.
func (b *Bus) Resync() {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.each {
		s.end(ErrResync)
	}
}
