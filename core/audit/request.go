package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

type requestIDKey struct{}

// MaxRequestIDLen bounds a request ID taken from a client's header.
const MaxRequestIDLen = 64

// WithRequestID returns ctx carrying the ID of the request (an HTTP
// request, or a job run) whose actions it records.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID of ctx, "" when none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// CleanRequestID returns a client's request ID when it is a short token
// of letters, digits, '-', '_', '.' and ':', else a new random one: what
// reaches the audit log and the logs is never arbitrary client text.
func CleanRequestID(id string) string {
	if id != "" && len(id) <= MaxRequestIDLen {
		ok := true
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
				ok = false
				break
			}
		}
		if ok {
			return id
		}
	}
	return NewRequestID()
}

// NewRequestID returns a random request ID.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}
