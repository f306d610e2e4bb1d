package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Defaults of the emulated app.
const (
	DefaultClientKey    = "sandbox-client-key"
	DefaultClientSecret = "sandbox-client-secret"
)

// SignatureHeader is the header TikTok signs deliveries in.
const SignatureHeader = "Tiktok-Signature"

// Sign returns the Tiktok-Signature header value for body sent at t:
// "t=<unix>,s=<hex HMAC-SHA256 of "<unix>.<body>">".
func Sign(clientSecret string, t time.Time, body []byte) string {
	return sdk.TikTokSignature(clientSecret, t, body)
}

// NewWebhookRequest builds the POST TikTok would make to webhookURL,
// signed with clientSecret at the current time.
func NewWebhookRequest(ctx context.Context, webhookURL, clientSecret string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sandbox: build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(clientSecret, time.Now(), body))
	return req, nil
}

// Deliver posts a signed webhook body to webhookURL and returns the
// answer's status and body (what `neksio simulate tiktok` prints).
func Deliver(ctx context.Context, client *http.Client, webhookURL, clientSecret string, body []byte) (int, []byte, error) {
	req, err := NewWebhookRequest(ctx, webhookURL, clientSecret, body)
	if err != nil {
		return 0, nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("sandbox: deliver webhook: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("sandbox: read webhook answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// Envelope wraps content (serialized to a JSON string, as TikTok does) in
// a webhook body for openID's account.
func Envelope(clientKey, event, openID string, at time.Time, content any) []byte {
	c, err := json.Marshal(content)
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal webhook content: %v", err)) // only maps, strings and numbers go in
	}
	if at.IsZero() {
		at = time.Now()
	}
	b, err := json.Marshal(map[string]any{
		"client_key":  cmp.Or(clientKey, DefaultClientKey),
		"event":       event,
		"create_time": at.Unix(),
		"user_openid": openID,
		"content":     string(c),
	})
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal webhook: %v", err))
	}
	return b
}

// ConversationID is the emulator's conversation between a business and a
// customer: stable, opaque, and the same in builders and the Server.
func ConversationID(businessID, customerID string) string {
	sum := sha256.Sum256([]byte(businessID + "\x00" + customerID))
	return "0:1:" + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// NewID returns a fresh 19-digit id, the shape of TikTok's message, video
// and comment ids.
func NewID() string {
	n, err := rand.Int(rand.Reader, big.NewInt(9e17))
	if err != nil {
		panic(fmt.Sprintf("sandbox: random id: %v", err))
	}
	return strconv.FormatInt(7e18+n.Int64(), 10)
}

// DM is one direct message, to be wrapped in a webhook body.
type DM struct {
	// ClientKey is DefaultClientKey when empty.
	ClientKey  string
	BusinessID string
	// CustomerID and CustomerName are the person writing (or written to).
	CustomerID   string
	CustomerName string
	// ConversationID is ConversationID(BusinessID, CustomerID) when empty.
	ConversationID string
	// MessageID is fresh when empty.
	MessageID string
	// Type is "text" when empty; image, video, sticker, emoji and
	// share_post carry media, anything else is sent as is.
	Type string
	Text string
	// MediaID and MediaURL are an image's, video's or sticker's.
	MediaID  string
	MediaURL string
	// SharedVideoID and SharedURL are a share_post's.
	SharedVideoID string
	SharedURL     string
	// At is now when zero.
	At time.Time
	// Echo makes it the business's own message (im_send_msg), sent from
	// Source (API when empty).
	Echo   bool
	Source string
	// Event overrides the event name (e.g. direct_message.receive).
	Event string
}

// Content returns the event's content object.
func (d DM) Content() map[string]any {
	at := d.At
	if at.IsZero() {
		at = time.Now()
	}
	typ := cmp.Or(d.Type, "text")
	customer := map[string]any{"id": d.CustomerID, "role": "personal_account"}
	business := map[string]any{"id": d.BusinessID, "role": "business_account"}
	c := map[string]any{
		"conversation_id": cmp.Or(d.ConversationID, ConversationID(d.BusinessID, d.CustomerID)),
		"message_id":      cmp.Or(d.MessageID, NewID()),
		"timestamp":       at.UnixMilli(),
		"type":            typ,
		"from_user":       customer,
		"to_user":         business,
		"from":            d.CustomerName,
		"is_follower":     false,
	}
	if d.Echo {
		c["from_user"], c["to_user"] = business, customer
		c["from"], c["to"] = "", d.CustomerName
		c["message_tag"] = map[string]any{"source": cmp.Or(d.Source, "API")}
	}
	if d.Text != "" || typ == "text" {
		c["text"] = map[string]any{"body": d.Text}
	}
	media := map[string]any{"media_id": cmp.Or(d.MediaID, NewID())}
	if d.MediaURL != "" {
		media["url"] = d.MediaURL
	}
	switch typ {
	case "image", "video", "sticker", "emoji":
		c[typ] = media
	case "share_post":
		c["share_post"] = map[string]any{"video_id": cmp.Or(d.SharedVideoID, NewID()), "embed_url": d.SharedURL}
	}
	return c
}

// EventName is the webhook event the DM arrives as.
func (d DM) EventName() string {
	switch {
	case d.Event != "":
		return d.Event
	case d.Echo:
		return "im_send_msg"
	default:
		return "im_receive_msg"
	}
}

// Body returns the full webhook body.
func (d DM) Body() []byte {
	return Envelope(d.ClientKey, d.EventName(), d.BusinessID, d.At, d.Content())
}

// TextDM returns a customer's text message to a business.
func TextDM(businessID, customerID, customerName, text string) []byte {
	return DM{BusinessID: businessID, CustomerID: customerID, CustomerName: customerName, Text: text}.Body()
}

// AuthorizationRemoved returns the webhook TikTok sends when openID's
// authorization ends (reason: 1 user disconnected, 2 account deleted, 3
// age changed, 4 banned, 5 developer revoked).
func AuthorizationRemoved(clientKey, openID string, reason int) []byte {
	return Envelope(clientKey, "authorization.removed", openID, time.Now(), map[string]any{"reason": reason})
}

// PublishComplete returns post.publish.complete for a publication.
func PublishComplete(clientKey, openID, publishID string) []byte {
	return Envelope(clientKey, "post.publish.complete", openID, time.Now(),
		map[string]any{"publish_id": publishID, "publish_type": "DIRECT_PUBLISH"})
}

// PubliclyAvailable returns post.publish.publicly_available: the post is
// public as postID.
func PubliclyAvailable(clientKey, openID, publishID, postID string) []byte {
	return Envelope(clientKey, "post.publish.publicly_available", openID, time.Now(),
		map[string]any{"publish_id": publishID, "post_id": postID, "publish_type": "DIRECT_PUBLISH"})
}

// PublishFailed returns post.publish.failed with TikTok's fail reason.
func PublishFailed(clientKey, openID, publishID, reason string) []byte {
	return Envelope(clientKey, "post.publish.failed", openID, time.Now(),
		map[string]any{"publish_id": publishID, "reason": reason, "publish_type": "DIRECT_PUBLISH"})
}

// VideoPublishCompleted returns the older Share Video API's completion
// event, video.publish.completed, naming share_id.
func VideoPublishCompleted(clientKey, openID, shareID string) []byte {
	return Envelope(clientKey, "video.publish.completed", openID, time.Now(), map[string]any{"share_id": shareID})
}

// VideoUploadFailed returns the older Share Video API's failure event.
func VideoUploadFailed(clientKey, openID, shareID string) []byte {
	return Envelope(clientKey, "video.upload.failed", openID, time.Now(), map[string]any{"share_id": shareID})
}

// CommentUpdate returns comment.update for a comment under a video of
// openID's account; action is insert, delete, set_to_hidden or
// set_to_public. Like TikTok, it carries ids only, as bare numbers when
// they are numeric.
func CommentUpdate(clientKey, openID, videoID, commentID, parentID, action string) []byte {
	num := func(s string) any {
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return json.Number(s)
		}
		return s
	}
	typ := "comment"
	if parentID != "" && parentID != "0" {
		typ = "reply"
	}
	return Envelope(clientKey, "comment.update", openID, time.Now(), map[string]any{
		"comment_id": num(commentID), "video_id": num(videoID), "parent_comment_id": num(cmp.Or(parentID, "0")),
		"comment_type": typ, "comment_action": action, "timestamp": time.Now().Unix(),
	})
}
