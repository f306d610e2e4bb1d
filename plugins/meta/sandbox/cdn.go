package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Attachments customers send arrive as CDN URLs that need no token and
// stop working after a while ("URL signature expired"). The emulator
// serves them under /_sandbox/cdn/.

// DefaultAttachmentTTL is how long an attachment URL works.
const DefaultAttachmentTTL = 72 * time.Hour

type attachment struct {
	data     []byte
	mimeType string
	expires  time.Time
}

// WithAttachmentTTL sets how long attachment URLs work.
func WithAttachmentTTL(d time.Duration) Option {
	return func(s *Server) { s.x.attTTL = d }
}

// AddAttachment stores a file a customer sends and returns its URL's path,
// relative to the emulator's root: join it to the emulator's base URL
// (e.g. httptest's srv.URL) and pass it to MessengerAttachment.
func (s *Server) AddAttachment(data []byte, mimeType string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	id := newID("")
	exp := s.now().Add(s.x.attTTL)
	s.x.attachments[id] = &attachment{data: append([]byte(nil), data...), mimeType: mimeType, expires: exp}
	return "/_sandbox/cdn/" + id + "?oe=" + strconv.FormatInt(exp.Unix(), 16)
}

// ExpireAttachments makes every attachment URL given out so far expired.
func (s *Server) ExpireAttachments() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	for _, a := range s.x.attachments {
		a.expires = time.Time{}
	}
}

// controlExtra serves the CDN and the control endpoints this file adds:
// GET /_sandbox/subscriptions. It reports whether it answered.
func (s *Server) controlExtra(w http.ResponseWriter, r *http.Request, what string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	switch {
	case strings.HasPrefix(what, "cdn/") && r.Method == http.MethodGet:
		a, ok := s.x.attachments[strings.TrimPrefix(what, "cdn/")]
		switch {
		case !ok:
			http.NotFound(w, r)
		case !s.now().Before(a.expires):
			http.Error(w, "URL signature expired", http.StatusForbidden)
		default:
			w.Header().Set("Content-Type", a.mimeType)
			w.Header().Set("Content-Length", strconv.Itoa(len(a.data)))
			_, _ = w.Write(a.data)
		}
	case what == "subscriptions" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.x.subs)
	default:
		return false
	}
	return true
}
