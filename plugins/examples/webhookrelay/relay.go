package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Version is the connector's version, reported by Describe.
const Version = "0.1.0"

// SignatureHeader carries the hex HMAC-SHA256 of the raw body, keyed with
// the app's client secret.
const SignatureHeader = "X-Relay-Signature"

// Relay is the connector. It holds no state: everything a call needs comes
// with the call, and the HTTP client is safe for concurrent use.
type Relay struct {
	sdk.UnimplementedConnector

	// HTTPClient sends replies; nil means a client with a 20s timeout.
	HTTPClient *http.Client
}

func (r *Relay) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:         "webhookrelay",
		Version:      Version,
		Platforms:    []string{"relay"},
		Capabilities: []sdk.Capability{sdk.CapWebhook, sdk.CapDirectMessage, sdk.CapMediaFetch},
		ConfigSchema: []sdk.ConfigField{
			{Name: "api_base_url", Description: "Base URL of the relay API; replies go to <base>/messages", Required: true},
			{Name: "client_secret", Description: "Shared secret signing deliveries (X-Relay-Signature)", Secret: true, Required: true},
		},
		AccountIDLabel: "account",
	}, nil
}

// delivery is the relay's webhook payload.
type delivery struct {
	Account  string `json:"account"`
	Messages []struct {
		ID        string `json:"id"`
		From      string `json:"from"`
		Name      string `json:"name"`
		Text      string `json:"text"`
		Timestamp int64  `json:"timestamp"` // unix seconds
	} `json:"messages"`
}

func (r *Relay) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	// Verify first, on the exact bytes received: never parse what is not
	// proven to come from the relay.
	if req.App.ClientSecret == "" {
		return nil, sdk.NewError(sdk.ClassUnauthenticated, "", "no client secret configured: cannot verify signature")
	}
	sig := sdk.HeaderValue(req.Header, SignatureHeader)
	if sig == "" || !sdk.VerifyHMACSHA256Hex([]byte(req.App.ClientSecret), req.Body, sig) {
		return nil, sdk.NewError(sdk.ClassUnauthenticated, "", "missing or invalid %s", SignatureHeader)
	}
	var d delivery
	if err := json.Unmarshal(req.Body, &d); err != nil {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "decode delivery: %v", err)
	}
	if d.Account == "" {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "delivery has no account")
	}
	res := &sdk.WebhookResult{}
	for _, m := range d.Messages {
		if m.ID == "" || m.From == "" {
			return nil, sdk.NewError(sdk.ClassMalformed, "", "message without id or sender")
		}
		ts := req.ReceivedAt
		if m.Timestamp > 0 {
			ts = time.Unix(m.Timestamp, 0).UTC()
		}
		res.Events = append(res.Events, &sdk.Event{
			Kind:       sdk.EventMessage,
			Platform:   "relay",
			AccountID:  d.Account,
			OccurredAt: ts,
			Message: &sdk.Message{
				ExternalID: m.ID,
				Action:     sdk.ActionCreated,
				Direction:  sdk.Inbound,
				ThreadKind: sdk.ThreadDirect,
				ThreadID:   m.From,
				Contact:    sdk.Contact{ExternalID: m.From, Name: m.Name},
				Type:       "text",
				Text:       m.Text,
				Timestamp:  ts,
			},
		})
	}
	return res, nil
}

func (r *Relay) Send(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.Kind != sdk.SendDirect {
		return nil, sdk.NewError(sdk.ClassUnsupported, "", "relay sends direct messages only, not %q", req.Kind)
	}
	if req.App.APIBaseURL == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no API base URL configured")
	}
	body, err := json.Marshal(map[string]string{
		"account": req.AccountID, "to": req.RecipientID, "text": req.Text, "reply_to": req.ReplyToID,
	})
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "encode message: %v", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(req.App.APIBaseURL, "/")+"/messages", bytes.NewReader(body))
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if req.Credentials.AccessToken != "" {
		hreq.Header.Set("Authorization", "Bearer "+req.Credentials.AccessToken)
	}
	if req.IdempotencyKey != "" {
		// Lets the relay drop the repeat when a retry follows a lost answer.
		hreq.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	resp, err := r.client().Do(hreq)
	if err != nil {
		// Network failures and timeouts may succeed later.
		return nil, sdk.NewError(sdk.ClassRetryable, "", "post message: %v", redactURL(err))
	}
	defer resp.Body.Close()
	payload, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := classify(resp, payload); err != nil {
		return nil, err
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(payload, &out); err != nil || out.ID == "" {
		// The relay accepted the message; without its id a retry would
		// duplicate it, so the failure is permanent.
		return nil, sdk.NewError(sdk.ClassPermanent, "", "relay answered %d without a message id", resp.StatusCode)
	}
	return &sdk.SendResult{ExternalID: out.ID, Status: sdk.StatusSent}, nil
}

// FetchMedia downloads an attachment the relay announced by id, from
// <base>/media/<id> with the channel's token. It implements the optional
// sdk.MediaFetcher interface (protocol 1.1): a connector offers the
// optional calls simply by having the methods.
func (r *Relay) FetchMedia(ctx context.Context, req *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	if req.App.APIBaseURL == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no API base URL configured")
	}
	if req.Attachment.ExternalID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "attachment has no media id")
	}
	u := strings.TrimRight(req.App.APIBaseURL, "/") + "/media/" + url.PathEscape(req.Attachment.ExternalID)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	if req.Credentials.AccessToken != "" {
		hreq.Header.Set("Authorization", "Bearer "+req.Credentials.AccessToken)
	}
	resp, err := r.client().Do(hreq)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassRetryable, "", "get media: %v", redactURL(err))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		payload, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, classify(resp, payload)
	}
	if req.MaxBytes > 0 && resp.ContentLength > req.MaxBytes {
		resp.Body.Close()
		return nil, sdk.NewError(sdk.ClassPermanent, "too_large", "media is %d bytes, more than %d", resp.ContentLength, req.MaxBytes)
	}
	return &sdk.MediaContent{MimeType: resp.Header.Get("Content-Type"), Size: resp.ContentLength, Body: resp.Body}, nil
}

// classify maps an HTTP answer to the SDK's error classes.
func classify(resp *http.Response, payload []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := strings.TrimSpace(string(payload))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	status := strconv.Itoa(code)
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		e := sdk.NewError(sdk.ClassRetryable, status, "relay answered %d: %s", code, msg)
		e.RetryAfter = sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	case code == http.StatusUnauthorized:
		return sdk.NewError(sdk.ClassAuthRevoked, status, "relay rejected the token: %s", msg)
	default:
		return sdk.NewError(sdk.ClassPermanent, status, "relay answered %d: %s", code, msg)
	}
}

func (r *Relay) client() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return defaultClient
}

var defaultClient = &http.Client{Timeout: 20 * time.Second}

// redactURL keeps the operation and cause of a transport error but drops
// the URL, which may carry credentials in its query.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
