package event

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Channel is the PostgreSQL notification channel change events travel on.
const Channel = "neksio_events"

// MaxPayload bounds one notification's payload. PostgreSQL refuses
// payloads of 8000 bytes or more; staying well under leaves room for the
// envelope.
const MaxPayload = 7000

// notification is what one pg_notify carries: the sending store's origin
// and a batch of events.
type notification struct {
	Origin string  `json:"r"`
	Events []Event `json:"e"`
}

// NewOrigin returns a random identifier for one store (one process's
// connection to the database), so its Listener can recognise, and skip,
// the notifications it sent itself.
func NewOrigin() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Payloads encodes events as notification payloads of at most MaxPayload
// bytes each, in order. Identical events are sent once: a transaction that
// touches a conversation twice announces it once.
func Payloads(origin string, events []Event) ([]string, error) {
	var out []string
	seen := make(map[Event]struct{}, len(events))
	batch := notification{Origin: origin}
	size := 0
	flush := func() error {
		if len(batch.Events) == 0 {
			return nil
		}
		b, err := json.Marshal(batch)
		if err != nil {
			return fmt.Errorf("event: encoding notification: %w", err)
		}
		out = append(out, string(b))
		batch.Events, size = nil, 0
		return nil
	}
	envelope := len(`{"r":"","e":[]}`) + len(origin)
	for _, ev := range events {
		if _, dup := seen[ev]; dup {
			continue
		}
		seen[ev] = struct{}{}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("event: encoding %s: %w", ev.Type, err)
		}
		if envelope+len(b)+1 > MaxPayload {
			return nil, fmt.Errorf("event: %s event for %q does not fit in a notification", ev.Type, ev.ObjectID)
		}
		if envelope+size+len(b)+1 > MaxPayload {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch.Events = append(batch.Events, ev)
		size += len(b) + 1
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// Dedupe returns events without repeats, in first-seen order.
func Dedupe(events []Event) []Event {
	if len(events) < 2 {
		return events
	}
	seen := make(map[Event]struct{}, len(events))
	out := events[:0:0]
	for _, ev := range events {
		if _, dup := seen[ev]; !dup {
			seen[ev] = struct{}{}
			out = append(out, ev)
		}
	}
	return out
}

// decode parses a notification payload.
func decode(payload string) (notification, error) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return n, fmt.Errorf("event: decoding notification: %w", err)
	}
	return n, nil
}
