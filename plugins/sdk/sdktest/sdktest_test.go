package sdktest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

type hubConnector struct {
	sdk.UnimplementedConnector
}

func (hubConnector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name: "hub", Version: "1.0.0", Platforms: []string{"hub"},
		Capabilities: []sdk.Capability{sdk.CapWebhook, sdk.CapVerifySubscription},
	}, nil
}

func (hubConnector) VerifySubscription(_ context.Context, req *sdk.VerifyRequest) (*sdk.VerifyResponse, error) {
	q := req.Query
	if len(q["hub.verify_token"]) == 0 || req.App.VerifyToken == "" || q["hub.verify_token"][0] != req.App.VerifyToken {
		return &sdk.VerifyResponse{StatusCode: 403}, nil
	}
	return &sdk.VerifyResponse{StatusCode: 200, ContentType: "text/plain", Body: []byte(q["hub.challenge"][0])}, nil
}

func (hubConnector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	if err := sdk.VerifyHubSignature256(req.App.ClientSecret, req.Body, sdk.HeaderValue(req.Header, "X-Hub-Signature-256")); err != nil {
		return nil, err
	}
	return parse(req.Body)
}

// parse reads {"id":"…","from":"…","text":"…"} into one inbound message.
func parse(body []byte) (*sdk.WebhookResult, error) {
	var m struct{ ID, From, Text string }
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "not JSON: %v", err)
	}
	if m.ID == "" {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "no id")
	}
	return &sdk.WebhookResult{Events: []*sdk.Event{{
		Kind: sdk.EventMessage, Platform: "hub", AccountID: "acct",
		Message: &sdk.Message{
			ExternalID: m.ID, Action: sdk.ActionCreated, Direction: sdk.Inbound, ThreadKind: sdk.ThreadDirect,
			ThreadID: m.From, Contact: sdk.Contact{ExternalID: m.From}, Type: "text", Text: m.Text,
		},
	}}}, nil
}

type tiktokConnector struct{ hubConnector }

func (tiktokConnector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	if err := sdk.VerifyTikTokSignature(req.App.ClientSecret, req.Body, sdk.HeaderValue(req.Header, "Tiktok-Signature"), req.ReceivedAt, 5*time.Minute); err != nil {
		return nil, err
	}
	return parse(req.Body)
}

var deliveries = []sdktest.Delivery{{
	Name: "text",
	Body: []byte(`{"id":"m1","from":"u1","text":"hello"}`),
	Want: []sdk.Event{{Kind: sdk.EventMessage, AccountID: "acct", Message: &sdk.Message{ExternalID: "m1", ThreadID: "u1", Text: "hello"}}},
}}

func TestConformance(t *testing.T) {
	t.Parallel()
	app := sdk.App{ClientSecret: "conformance-secret", VerifyToken: "conformance-token"}
	sdktest.Conformance(t, hubConnector{}, sdktest.Fixtures{
		App: app, Sign: sdktest.HubSigner, Deliveries: deliveries, Handshake: sdktest.HubHandshake,
		Forge: func(req *sdk.WebhookRequest) {
			req.Header["X-Hub-Signature-256"] = []string{sdk.HubSignature256("another-secret", req.Body)}
		},
		Malformed: [][]byte{[]byte(`{"text":"no id"}`)},
	})
	sdktest.Conformance(t, tiktokConnector{}, sdktest.Fixtures{
		App: app, Deliveries: deliveries, Handshake: sdktest.HubHandshake,
		Sign: func(req *sdk.WebhookRequest) {
			req.Header["Tiktok-Signature"] = []string{sdk.TikTokSignature(req.App.ClientSecret, req.ReceivedAt, req.Body)}
		},
	})
	// The fixtures of ExampleConformance.
	sdktest.Conformance(t, relay{}, fixtures)
}

func TestSignedWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := sdk.App{ClientSecret: "s"}
	body := []byte(`{"id":"m1","from":"u1"}`)

	hub := sdktest.Connect(t, hubConnector{})
	_, err := hub.HandleWebhook(ctx, sdktest.HubSignedWebhook(app, body))
	require.NoError(t, err)
	_, err = hub.HandleWebhook(ctx, sdktest.TikTokSignedWebhook(app, time.Now(), body))
	sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)

	tt := sdktest.Connect(t, tiktokConnector{})
	_, err = tt.HandleWebhook(ctx, sdktest.TikTokSignedWebhook(app, time.Now(), body))
	require.NoError(t, err)
	_, err = tt.HandleWebhook(ctx, sdktest.TikTokSignedWebhook(app, time.Now().Add(-time.Hour), body))
	sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)

	req := sdktest.HMACSignedWebhook(app, "X-Sig", body)
	require.True(t, sdk.VerifyHMACSHA256Hex([]byte("s"), body, sdk.HeaderValue(req.Header, "x-sig")))
}
