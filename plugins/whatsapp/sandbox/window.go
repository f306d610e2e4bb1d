package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The customer-service window: free-form messages only within 24 hours of
// the customer's last message; templates at any time. The emulator learns
// when customers wrote from Seen, Observe (an inbound webhook body built
// here) or their control endpoints.

// Window is the customer-service window.
const Window = 24 * time.Hour

// WithWindowEnforced makes a customer the emulator never saw write
// outside the window, as on the platform. Without it only customers seen
// more than 24 hours ago are (and those CloseWindow names), so callers
// that never report inbound messages keep working.
func WithWindowEnforced() Option {
	return func(s *Server) { s.x.strictWindow = true }
}

type windowKey struct{ phone, waID string }

// Seen records that waID wrote to the number at at: it opens the window
// for 24 hours.
func (s *Server) Seen(phoneNumberID, waID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.x.seen == nil {
		s.x.seen = map[windowKey]time.Time{}
	}
	k := windowKey{phoneNumberID, digits(waID)}
	if at.After(s.x.seen[k]) {
		s.x.seen[k] = at
	}
}

// Observe records every customer message of an inbound webhook body (as
// built by Inbound or TextMessage) with Seen. Bodies that do not parse
// are ignored.
func (s *Server) Observe(body []byte) {
	var env struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
					} `json:"metadata"`
					Messages []struct {
						From      string `json:"from"`
						Timestamp string `json:"timestamp"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &env) != nil {
		return
	}
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				at := s.now()
				if sec, err := strconv.ParseInt(m.Timestamp, 10, 64); err == nil {
					at = time.Unix(sec, 0)
				}
				s.Seen(c.Value.Metadata.PhoneNumberID, m.From, at)
			}
		}
	}
}

// outsideWindow reports whether a free-form message from the number to
// waID is refused. s.mu is held.
func (s *Server) outsideWindow(phoneNumberID, waID string) bool {
	last, ok := s.x.seen[windowKey{phoneNumberID, waID}]
	if !ok {
		return s.x.strictWindow
	}
	return s.now().Sub(last) > Window
}

// control serves /_sandbox/: POST observe (a webhook body), POST seen
// {phone_number_id, wa_id, at}, GET sent. It reports whether it answered.
func (s *Server) control(w http.ResponseWriter, r *http.Request) bool {
	what, ok := strings.CutPrefix(strings.Trim(r.URL.Path, "/"), "_sandbox/")
	if !ok {
		return false
	}
	switch {
	case what == "observe" && r.Method == http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return true
		}
		s.Observe(b)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case what == "seen" && r.Method == http.MethodPost:
		var in struct {
			PhoneNumberID string    `json:"phone_number_id"`
			WaID          string    `json:"wa_id"`
			At            time.Time `json:"at"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.PhoneNumberID == "" || in.WaID == "" {
			http.Error(w, "want {phone_number_id, wa_id, at}", http.StatusBadRequest)
			return true
		}
		if in.At.IsZero() {
			in.At = s.now()
		}
		s.Seen(in.PhoneNumberID, in.WaID, in.At)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case what == "sent" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Sent())
	default:
		http.NotFound(w, r)
	}
	return true
}
