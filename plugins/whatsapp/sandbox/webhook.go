package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Defaults for the builders, taken from the platform's documented examples.
const (
	DefaultWABAID             = "102290129340398"
	DefaultDisplayPhoneNumber = "15550783881"
)

// NewWAMID returns a fresh message id in the platform's format.
func NewWAMID() string {
	return "wamid.HBgL" + randomToken(36)
}

// NewMediaID returns a fresh media id.
func NewMediaID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	n := uint64(0)
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return strconv.FormatUint(n%9e15+1e15, 10)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// Inbound is one inbound message, to be wrapped in a webhook body.
type Inbound struct {
	WABAID             string // DefaultWABAID when empty
	PhoneNumberID      string
	DisplayPhoneNumber string // DefaultDisplayPhoneNumber when empty
	// From is the customer's wa_id; Name their profile name.
	From string
	Name string
	// ID is the wamid, fresh when empty.
	ID string
	// Timestamp is now when zero.
	Timestamp time.Time
	// Type is "text" when empty.
	Type string
	// Text is the text body, or the caption of a media message.
	Text string
	// ReplyToID quotes a message (context.id).
	ReplyToID string
	// Object replaces the type's object, e.g. a location or an interactive
	// reply; media types and text get one built from Text when nil.
	Object any
}

// Message returns the messages[] element of the webhook.
func (in Inbound) Message() map[string]any {
	typ := in.Type
	if typ == "" {
		typ = "text"
	}
	id := in.ID
	if id == "" {
		id = NewWAMID()
	}
	ts := in.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	m := map[string]any{
		"from":      in.From,
		"id":        id,
		"timestamp": strconv.FormatInt(ts.Unix(), 10),
		"type":      typ,
	}
	if in.ReplyToID != "" {
		m["context"] = map[string]any{"from": in.displayNumber(), "id": in.ReplyToID}
	}
	obj := in.Object
	if obj == nil {
		switch typ {
		case "text":
			obj = map[string]any{"body": in.Text}
		case "image", "audio", "video", "document", "sticker":
			sum := sha256.Sum256([]byte(in.Text + id))
			media := map[string]any{
				"id":        NewMediaID(),
				"mime_type": map[string]string{"image": "image/jpeg", "audio": "audio/ogg; codecs=opus", "video": "video/mp4", "document": "application/pdf", "sticker": "image/webp"}[typ],
				"sha256":    base64.StdEncoding.EncodeToString(sum[:]),
			}
			if in.Text != "" && typ != "audio" && typ != "sticker" {
				media["caption"] = in.Text
			}
			if typ == "document" {
				media["filename"] = "document.pdf"
			}
			obj = media
		}
	}
	if obj != nil {
		m[typ] = obj
	}
	return m
}

func (in Inbound) displayNumber() string {
	if in.DisplayPhoneNumber != "" {
		return in.DisplayPhoneNumber
	}
	return DefaultDisplayPhoneNumber
}

// Body returns the full webhook body carrying the message.
func (in Inbound) Body() []byte {
	value := map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          in.metadata(),
		"contacts":          []any{map[string]any{"profile": map[string]any{"name": in.Name}, "wa_id": in.From}},
		"messages":          []any{in.Message()},
	}
	return envelope(in.WABAID, value)
}

func (in Inbound) metadata() map[string]any {
	return map[string]any{"display_phone_number": in.displayNumber(), "phone_number_id": in.PhoneNumberID}
}

// TextMessage returns a webhook body for a text message from wa_id from,
// with a fresh wamid and the current time.
func TextMessage(phoneNumberID, from, name, text string) []byte {
	return Inbound{PhoneNumberID: phoneNumberID, From: from, Name: name, Text: text}.Body()
}

// StatusUpdate returns a webhook body reporting status (sent, delivered,
// read) of the business's message wamid to recipientID.
func StatusUpdate(phoneNumberID, wamid, recipientID, status string) []byte {
	return statusBody(phoneNumberID, map[string]any{
		"id":           wamid,
		"status":       status,
		"timestamp":    strconv.FormatInt(time.Now().Unix(), 10),
		"recipient_id": recipientID,
		"conversation": map[string]any{"id": randomToken(32), "origin": map[string]any{"type": "service"}},
		"pricing":      map[string]any{"billable": true, "pricing_model": "CBP", "category": "service"},
	})
}

// FailedStatus returns a webhook body reporting that wamid failed with the
// given error code, e.g. 131047 when the 24-hour window had closed.
func FailedStatus(phoneNumberID, wamid, recipientID string, code int, title, details string) []byte {
	return statusBody(phoneNumberID, map[string]any{
		"id":           wamid,
		"status":       "failed",
		"timestamp":    strconv.FormatInt(time.Now().Unix(), 10),
		"recipient_id": recipientID,
		"errors": []any{map[string]any{
			"code":       code,
			"title":      title,
			"message":    title,
			"error_data": map[string]any{"details": details},
			"href":       "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
		}},
	})
}

func statusBody(phoneNumberID string, status map[string]any) []byte {
	return envelope("", map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          Inbound{PhoneNumberID: phoneNumberID}.metadata(),
		"statuses":          []any{status},
	})
}

func envelope(wabaID string, value map[string]any) []byte {
	if wabaID == "" {
		wabaID = DefaultWABAID
	}
	b, err := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{
			"id":      wabaID,
			"changes": []any{map[string]any{"field": "messages", "value": value}},
		}},
	})
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal webhook: %v", err)) // only plain maps and strings go in
	}
	return b
}

// Sign returns the X-Hub-Signature-256 header value for body.
func Sign(appSecret string, body []byte) string {
	return sdk.HubSignature256(appSecret, body)
}

// NewWebhookRequest builds the POST the platform would make to webhookURL,
// signed with appSecret.
func NewWebhookRequest(ctx context.Context, webhookURL, appSecret string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("sandbox: build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set("X-Hub-Signature-256", Sign(appSecret, body))
	return req, nil
}

// Deliver posts a signed webhook to webhookURL and returns the answer's
// status and body (what `neksio simulate whatsapp` prints).
func Deliver(ctx context.Context, client *http.Client, webhookURL, appSecret string, body []byte) (int, []byte, error) {
	req, err := NewWebhookRequest(ctx, webhookURL, appSecret, body)
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
