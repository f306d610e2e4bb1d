package privacy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
)

// SignedRequestMaxAge is how old a Meta signed_request may be.
const SignedRequestMaxAge = time.Hour

// Errors of ParseSignedRequest.
var (
	ErrSignedRequest        = errors.New("privacy: invalid signed_request")
	ErrSignedRequestExpired = errors.New("privacy: signed_request expired")
)

// SignedRequest is the payload of Meta's signed_request.
type SignedRequest struct {
	Algorithm string `json:"algorithm"`
	IssuedAt  int64  `json:"issued_at"`
	UserID    string `json:"user_id"`
}

// ParseSignedRequest verifies Meta's signed_request ("<sig>.<payload>",
// both base64url; sig is HMAC-SHA256 of the encoded payload under the app
// secret) and returns its payload. A forged, malformed, future or
// expired (older than SignedRequestMaxAge) request is refused.
func ParseSignedRequest(raw, appSecret string, now time.Time) (*SignedRequest, error) {
	if appSecret == "" {
		return nil, ErrSignedRequest
	}
	sigPart, payload, ok := strings.Cut(raw, ".")
	if !ok || sigPart == "" || payload == "" {
		return nil, ErrSignedRequest
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sigPart, "="))
	if err != nil {
		return nil, ErrSignedRequest
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(payload))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, ErrSignedRequest
	}
	body, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return nil, ErrSignedRequest
	}
	var sr SignedRequest
	if err := json.Unmarshal(body, &sr); err != nil || !strings.EqualFold(sr.Algorithm, "HMAC-SHA256") || sr.UserID == "" {
		return nil, ErrSignedRequest
	}
	issued := time.Unix(sr.IssuedAt, 0)
	if sr.IssuedAt == 0 || now.Sub(issued) > SignedRequestMaxAge || issued.Sub(now) > 5*time.Minute {
		return nil, ErrSignedRequestExpired
	}
	return &sr, nil
}

// SignRequest builds a signed_request the way Meta does (tests, the sandbox).
func SignRequest(sr SignedRequest, appSecret string) string {
	body, _ := json.Marshal(sr)
	payload := base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)) + "." + payload
}

// MetaDeletion serves Meta's data deletion callback.
type MetaDeletion struct {
	Privacy *Service
	// AppSecret returns the Meta app's secret (NEKSIO_META_APP_SECRET).
	AppSecret func() string
	// Connectors are the connectors whose contacts Meta's user IDs name.
	Connectors []string
}

// ServeHTTP handles POST /privacy/meta/data-deletion: the signed_request
// is verified, every contact Meta's user ID names on a Meta channel (in
// any workspace) is erased, and the answer is Meta's JSON
// {url, confirmation_code}. A forged or expired request is 403 and nothing
// changes.
func (h *MetaDeletion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s := h.Privacy
	sr, err := ParseSignedRequest(r.PostForm.Get("signed_request"), h.AppSecret(), s.now())
	if err != nil {
		http.Error(w, "invalid signed_request", http.StatusForbidden)
		return
	}
	code := s.confirmationCode()
	if err := h.erase(r.Context(), sr.UserID, code); err != nil {
		s.log().Error("privacy: meta data deletion", "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"url":               strings.TrimSuffix(s.PublicURL, "/") + "/privacy/meta/data-deletion/status?code=" + url.QueryEscape(code),
		"confirmation_code": code,
	})
}

func (h *MetaDeletion) erase(ctx context.Context, userID, code string) error {
	s := h.Privacy
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("meta data deletion"))
	conns := h.Connectors
	if len(conns) == 0 {
		conns = []string{"meta"}
	}
	cs, err := s.Store.Ent.Contact.Query().Where(contact.ExternalID(userID),
		contact.HasChannelWith(entchannel.ConnectorIn(conns...))).All(pctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if _, err := s.EraseContactAsSystem(ctx, string(c.WorkspaceID), c.ID, "platform:meta data deletion "+code); err != nil {
			return err
		}
	}
	return nil
}

// confirmationCode is a random code signed with the service's key, so the
// status page can tell its own codes from made-up ones without storing them.
func (s *Service) confirmationCode() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	return id + "-" + s.codeSig(id)
}

func (s *Service) codeSig(id string) string {
	m := hmac.New(sha256.New, s.SignKey)
	m.Write([]byte("meta deletion\x00" + id))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// ServeStatus handles GET /privacy/meta/data-deletion/status?code=…: the
// erasure runs before the callback answers, so a code of ours is
// completed; any other is not found.
func (h *MetaDeletion) ServeStatus(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	id, sig, ok := strings.Cut(code, "-")
	w.Header().Set("Content-Type", "application/json")
	if !ok || !hmac.Equal([]byte(sig), []byte(h.Privacy.codeSig(id))) {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"confirmation_code": code, "status": "unknown"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"confirmation_code": code, "status": "completed",
		"detail": "every contact this user ID named on the business's Meta channels has been erased from Neksio"})
}

// AuthorizationRemoved erases what a channel's authorization brought, in
// the webhook's transaction: every contact of the channel and every
// conversation on it, with their messages, files, runs and jobs. The
// channel row stays (NEEDS_RECONNECT, no tokens) so the business sees
// what happened; its posts are the business's own and stay too.
func (s *Service) AuthorizationRemoved(ctx context.Context, tx *store.Tx, ch *ent.Channel) error {
	contacts, err := tx.Ent.Contact.Query().Where(contact.ChannelID(ch.ID)).IDs(ctx)
	if err != nil {
		return err
	}
	convs, err := tx.Ent.Conversation.Query().Where(conversation.ChannelID(ch.ID)).IDs(ctx)
	if err != nil {
		return err
	}
	seeds := rowset{}
	for _, id := range contacts {
		seeds.add("contacts", string(id))
	}
	for _, id := range convs {
		seeds.add("conversations", string(id))
	}
	if len(seeds) == 0 {
		return nil
	}
	_, err = s.eraseSet(ctx, tx, string(ch.WorkspaceID), seeds)
	return err
}
