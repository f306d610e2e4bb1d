package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/neksio/neksio/plugins/sdk"
)

// Pub/Sub push tokens are Google ID tokens.
const (
	googleIssuer = "https://accounts.google.com" // go-oidc also accepts "accounts.google.com" for it
	// maxIssuedAhead tolerates clock skew on iat.
	maxIssuedAhead = 5 * time.Minute
)

// Notification types that name a review; Google sends others too
// (GOOGLE_UPDATE, NEW_CUSTOMER_MEDIA, NEW_QUESTION, ...), which the
// connector acknowledges without events.
const (
	TypeNewReview     = "NEW_REVIEW"
	TypeUpdatedReview = "UPDATED_REVIEW"
)

func unauthenticated(format string, args ...any) *sdk.Error {
	return sdk.NewError(sdk.ClassUnauthenticated, "", format, args...)
}

func malformed(format string, args ...any) *sdk.Error {
	return sdk.NewError(sdk.ClassMalformed, "", format, args...)
}

// keySet returns the process's key set for a JWKS URL: go-oidc caches the
// keys and refetches them when a token names a key id it does not know
// (Google rotates its keys).
func (c *connector) keySet(jwksURL string) *oidc.RemoteKeySet {
	c.mu.Lock()
	defer c.mu.Unlock()
	ks, ok := c.keySets[jwksURL]
	if !ok {
		ks = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), c.client), jwksURL)
		c.keySets[jwksURL] = ks
	}
	return ks
}

// fetchErrKey carries, in a Verify call's context, where trackingKeySet
// records a failure to fetch the keys: go-oidc flattens it into a plain
// message, and an unreachable JWKS is not the sender's fault.
type fetchErrKey struct{}

type trackingKeySet struct{ ks oidc.KeySet }

func (t trackingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := t.ks.VerifySignature(ctx, jwt)
	// RemoteKeySet wraps fetch failures; a signature no key verifies is
	// a bare error.
	if err != nil && errors.Unwrap(err) != nil {
		if p, ok := ctx.Value(fetchErrKey{}).(*error); ok {
			*p = err
		}
	}
	return payload, err
}

// verifyPush checks the push's OIDC token: signed by a Google key (RS256),
// issued by accounts.google.com, for the configured audience, by the
// configured service account with a verified email, not expired.
func (c *connector) verifyPush(ctx context.Context, req *sdk.WebhookRequest) error {
	aud := strings.TrimSpace(req.App.Settings[SettingPubSubAudience])
	if aud == "" {
		return unauthenticated("no Pub/Sub audience configured (NEKSIO_GOOGLE_PUBSUB_AUDIENCE): every push is refused")
	}
	account := strings.TrimSpace(req.App.Settings[SettingPubSubAccount])
	if account == "" {
		return unauthenticated("no Pub/Sub service account configured (NEKSIO_GOOGLE_PUBSUB_SERVICE_ACCOUNT): every push is refused")
	}
	scheme, raw, _ := strings.Cut(strings.TrimSpace(sdk.HeaderValue(req.Header, "Authorization")), " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return unauthenticated("missing Authorization: Bearer token")
	}
	jwks := endpointsFor(req.App).jwks
	var fetchErr error
	verifier := oidc.NewVerifier(googleIssuer, trackingKeySet{c.keySet(jwks)}, &oidc.Config{
		ClientID: aud, Now: c.now, SupportedSigningAlgs: []string{oidc.RS256},
	})
	tok, err := verifier.Verify(context.WithValue(ctx, fetchErrKey{}, &fetchErr), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case fetchErr != nil:
			return sdk.NewError(sdk.ClassRetryable, "", "cannot fetch Google's signing keys from %s: %v", jwks, fetchErr)
		case errors.As(err, &expired):
			return unauthenticated("the push token expired at %s", expired.Expiry.UTC().Format(time.RFC3339))
		default:
			return unauthenticated("invalid push token: %v", err)
		}
	}
	var claims struct {
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
	}
	if err := tok.Claims(&claims); err != nil {
		return unauthenticated("unreadable push token claims: %v", err)
	}
	if !strings.EqualFold(claims.Email, account) {
		return unauthenticated("push token of service account %q, not the configured one", claims.Email)
	}
	if v := strings.Trim(string(claims.EmailVerified), `"`); v != "true" {
		return unauthenticated("the push token's email is not verified")
	}
	if tok.IssuedAt.IsZero() || tok.IssuedAt.After(c.now().Add(maxIssuedAhead)) {
		return unauthenticated("the push token has no valid issue time")
	}
	return nil
}

// HandleWebhook verifies a Pub/Sub push and names the review it is about.
// It fetches Google's signing keys when they are not cached, and never
// calls the Business Profile API: the host reads the review with
// Sync{Only: [review]} before it acknowledges the push.
func (c *connector) HandleWebhook(ctx context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	if err := c.verifyPush(ctx, req); err != nil {
		return nil, err
	}
	received := req.ReceivedAt
	if received.IsZero() {
		received = c.now()
	}
	events, err := ParsePush(req.Body, req.Header, received)
	if err != nil {
		return nil, err
	}
	return &sdk.WebhookResult{Events: events}, nil
}

type pushEnvelope struct {
	Message *struct {
		Data           string `json:"data"`
		MessageID      string `json:"messageId"`
		PublishTime    string `json:"publishTime"`
		PublishTimeAlt string `json:"publish_time"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// ParsePush reads a Pub/Sub push body (authenticated beforehand) into
// events. It takes the wrapped envelope {"message":{"data":base64,...}}
// and, for subscriptions with payload unwrapping, the bare notification
// JSON. A notification of a review becomes an EventNotify for its
// location; other notification types become no event. An envelope,
// base64 or notification that cannot be read is ClassMalformed.
func ParsePush(body []byte, header map[string][]string, receivedAt time.Time) ([]*sdk.Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, malformed("not a Pub/Sub push: the body is not a JSON object")
	}
	data := body
	published := sdk.HeaderValue(header, "X-Goog-Pubsub-Publish-Time")
	if _, wrapped := top["message"]; wrapped {
		var env pushEnvelope
		if err := json.Unmarshal(body, &env); err != nil || env.Message == nil {
			return nil, malformed("unreadable Pub/Sub envelope: message must be an object")
		}
		if strings.TrimSpace(env.Message.Data) == "" {
			return nil, malformed("the Pub/Sub message carries no data")
		}
		var err error
		if data, err = decodeBase64(env.Message.Data); err != nil {
			return nil, malformed("the Pub/Sub message data is not base64")
		}
		published = firstNonBlank(env.Message.PublishTime, env.Message.PublishTimeAlt)
	}
	n, err := parseNotification(data)
	if err != nil {
		return nil, err
	}
	if n.typ != TypeNewReview && n.typ != TypeUpdatedReview {
		return []*sdk.Event{}, nil
	}
	at := receivedAt.UTC()
	if t := parseTime(published); !t.IsZero() {
		at = t
	}
	return []*sdk.Event{{
		Kind: sdk.EventNotify, Platform: Platform, AccountID: n.location, OccurredAt: at,
		Notify: &sdk.Notification{Type: n.typ, ThreadKind: sdk.ThreadReview, ItemID: n.review},
	}}, nil
}

func firstNonBlank(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// decodeBase64 reads Pub/Sub's data: standard base64, padded or not (and
// the URL alphabet, for tolerance).
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

type notification struct {
	typ, review, location string
}

// The field names vary with the source: the v4 documentation spells them
// notificationType/reviewName/locationName, the v1 (proto) documentation
// notification_type/review_name/location_name, and other relays
// type/review/location.
var (
	typeKeys     = []string{"notificationType", "notification_type", "type"}
	reviewKeys   = []string{"reviewName", "review_name", "review"}
	reviewIDKeys = []string{"reviewId", "review_id"}
	locationKeys = []string{"locationName", "location_name", "location"}
)

// field returns the first of keys present in m as a string; an object
// with a "name" (a resource) counts as its name.
func field(m map[string]json.RawMessage, keys []string) (string, error) {
	for _, k := range keys {
		raw, ok := m[k]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s), nil
		}
		var obj struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &obj) == nil && obj.Name != "" {
			return strings.TrimSpace(obj.Name), nil
		}
		return "", malformed("notification field %s is neither a string nor a resource", k)
	}
	return "", nil
}

func parseNotification(data []byte) (*notification, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, malformed("the notification is not a JSON object")
	}
	typ, err := field(m, typeKeys)
	if err != nil {
		return nil, err
	}
	if typ == "" {
		return nil, malformed("the notification names no type (notificationType)")
	}
	n := &notification{typ: strings.ToUpper(typ)}
	if n.typ != TypeNewReview && n.typ != TypeUpdatedReview {
		return n, nil
	}
	review, err := field(m, reviewKeys)
	if err != nil {
		return nil, err
	}
	loc, err := field(m, locationKeys)
	if err != nil {
		return nil, err
	}
	if review != "" && !strings.Contains(review, "/") && strings.Count(loc, "/") == 3 {
		review = loc + "/reviews/" + review // an id given with its location
	}
	if review == "" {
		id, err := field(m, reviewIDKeys)
		if err != nil {
			return nil, err
		}
		if id != "" && strings.Count(loc, "/") == 3 {
			review = loc + "/reviews/" + id
		}
	}
	rloc, _, ok := parseChild(review, "reviews")
	if !ok {
		return nil, malformed("a %s notification must name a review (accounts/{a}/locations/{l}/reviews/{r})", n.typ)
	}
	switch {
	case loc == "":
	case strings.HasPrefix(loc, "accounts/"):
		if l, err := parseLocation(loc); err != nil || l != rloc {
			return nil, malformed("the notification's location %q is not the review's", loc)
		}
	default: // Business Information spells locations without the account
		if loc != "locations/"+rloc.location {
			return nil, malformed("the notification's location %q is not the review's", loc)
		}
	}
	n.review, n.location = review, rloc.String()
	return n, nil
}
