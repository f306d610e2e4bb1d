package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Pub/Sub push defaults.
const (
	// Issuer is what Google puts in the iss claim of push tokens.
	Issuer = "https://accounts.google.com"
	// DefaultServiceAccount is the push subscription's service account
	// when PushOptions names none.
	DefaultServiceAccount = "neksio-push@neksio-sandbox.iam.gserviceaccount.com"
	// PushTokenTTL is how long a push token is valid, as at Google.
	PushTokenTTL = time.Hour
	// Subscription names the emulated push subscription.
	Subscription = "projects/neksio-sandbox/subscriptions/business-profile-push"
	// serviceAccountID is the sub and azp claims: the service account's
	// numeric id.
	serviceAccountID = "104236718429381234567"
)

type signingKey struct {
	id   string
	priv *rsa.PrivateKey
}

func newSigningKey(n int) signingKey {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("sandbox: generate RSA key: %v", err)) // crypto/rand never fails on supported platforms
	}
	return signingKey{id: "sandbox-" + strconv.Itoa(n), priv: priv}
}

// RotateKey starts signing with a new key and returns its key id. The
// JWKS serves the new key and the one before it, as Google keeps the
// previous key published for a while.
func (s *Server) RotateKey() string {
	s.mu.Lock()
	n := len(s.keys) + 1
	s.mu.Unlock()
	k := newSigningKey(n) // slow: outside the lock
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return k.id
}

// KeyID is the id of the key that signs push tokens now.
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1].id
}

// JWKSFetches counts the key set's downloads (a verifier that caches
// keys fetches once, and again after a rotation).
func (s *Server) JWKSFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksFetches
}

func (s *Server) serveJWKS(w http.ResponseWriter) {
	s.mu.Lock()
	s.jwksFetches++
	keys := s.keys[max(0, len(s.keys)-2):]
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.id, Algorithm: string(jose.RS256), Use: "sig"})
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, set)
}

// PushOptions shape a push token; the zero value is what Google sends.
// Tests change one field at a time to forge bad pushes.
type PushOptions struct {
	// Audience is the aud claim; empty means the URL pushed to.
	Audience string
	// ServiceAccount is the email claim; empty means
	// DefaultServiceAccount.
	ServiceAccount string
	// Issuer is the iss claim; empty means Issuer.
	Issuer string
	// IssuedAt is the iat claim; zero means the emulator's now.
	IssuedAt time.Time
	// TTL sets exp after iat; zero means PushTokenTTL, negative makes an
	// expired token.
	TTL time.Duration
	// EmailUnverified sends email_verified false.
	EmailUnverified bool
	// Key signs instead of the emulator's key (KeyID names it).
	Key   *rsa.PrivateKey
	KeyID string
	// NoToken sends no Authorization header at all.
	NoToken bool
}

type pushClaims struct {
	jwt.Claims
	AuthorizedParty string `json:"azp,omitempty"`
	Email           string `json:"email"`
	EmailVerified   bool   `json:"email_verified"`
}

// Token returns a push token for audience (the URL pushed to, unless
// o.Audience says otherwise), signed like Google signs Pub/Sub's.
func (s *Server) Token(audience string, o PushOptions) (string, error) {
	s.mu.Lock()
	key := s.keys[len(s.keys)-1]
	now := s.now()
	s.mu.Unlock()
	if o.Key != nil {
		key = signingKey{id: o.KeyID, priv: o.Key}
	}
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = now
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = PushTokenTTL
	}
	sa := o.ServiceAccount
	if sa == "" {
		sa = DefaultServiceAccount
	}
	aud := o.Audience
	if aud == "" {
		aud = audience
	}
	iss := o.Issuer
	if iss == "" {
		iss = Issuer
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key.priv, KeyID: key.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("sandbox: signer: %w", err)
	}
	claims := pushClaims{
		Claims: jwt.Claims{Issuer: iss, Subject: serviceAccountID, Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(iat), Expiry: jwt.NewNumericDate(iat.Add(ttl))},
		AuthorizedParty: serviceAccountID,
		Email:           sa,
		EmailVerified:   !o.EmailUnverified,
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sandbox: sign token: %w", err)
	}
	return tok, nil
}

// Notification is the data of a Business Profile notification, with the
// field names of the v4 documentation (notificationType, reviewName,
// locationName). typ is NEW_REVIEW, UPDATED_REVIEW, ...
func Notification(typ, reviewName string) []byte {
	loc := reviewName
	if i := bytes.LastIndex([]byte(reviewName), []byte("/reviews/")); i >= 0 {
		loc = reviewName[:i]
	}
	b, _ := json.Marshal(map[string]string{"notificationType": typ, "reviewName": reviewName, "locationName": loc})
	return b
}

// Envelope wraps data in a Pub/Sub push body.
func Envelope(data []byte, messageID string, publishTime time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data":         base64.StdEncoding.EncodeToString(data),
			"messageId":    messageID,
			"message_id":   messageID,
			"publishTime":  publishTime.UTC().Format(time.RFC3339Nano),
			"publish_time": publishTime.UTC().Format(time.RFC3339Nano),
			"attributes":   map[string]string{},
		},
		"subscription": Subscription,
	})
	return b
}

// NextMessageID returns a fresh Pub/Sub message id.
func (s *Server) NextMessageID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messageSeq++
	return strconv.Itoa(7000000000 + s.messageSeq)
}

// Push POSTs data to url as Pub/Sub does: wrapped in an envelope with a
// fresh message id, with a signed token in Authorization (shaped by o).
// The caller closes the response body.
func (s *Server) Push(ctx context.Context, client *http.Client, url string, data []byte, o PushOptions) (*http.Response, error) {
	s.mu.Lock()
	now := s.now()
	s.mu.Unlock()
	return s.PushBody(ctx, client, url, Envelope(data, s.NextMessageID(), now), o)
}

// PushBody POSTs an exact body (a redelivery, a malformed envelope) with
// a token shaped by o.
func (s *Server) PushBody(ctx context.Context, client *http.Client, url string, body []byte, o PushOptions) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sandbox: build push: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)")
	if !o.NoToken {
		tok, err := s.Token(url, o)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sandbox: push: %w", err)
	}
	return resp, nil
}

// PushTarget is where review changes made through the control endpoints
// are pushed.
type PushTarget struct {
	URL     string
	Options PushOptions
	Client  *http.Client
}

// SetPushTarget makes review changes (control endpoints, PushReview) push
// notifications to t; a zero URL stops pushing.
func (s *Server) SetPushTarget(t PushTarget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.URL == "" {
		s.target = nil
		return
	}
	s.target = &t
}

// PushReview pushes a notification of type typ for a review to the push
// target. It answers the target's status code, or 0 without a target.
func (s *Server) PushReview(ctx context.Context, typ, reviewName string) (int, error) {
	s.mu.Lock()
	t := s.target
	s.mu.Unlock()
	if t == nil {
		return 0, nil
	}
	resp, err := s.Push(ctx, t.Client, t.URL, Notification(typ, reviewName), t.Options)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}
