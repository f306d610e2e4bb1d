package sdktest_test

import (
	"context"
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
	return &sdk.WebhookResult{}, nil
}

type tiktokConnector struct{ hubConnector }

func (tiktokConnector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	err := sdk.VerifyTikTokSignature(req.App.ClientSecret, req.Body, sdk.HeaderValue(req.Header, "Tiktok-Signature"), time.Now(), 5*time.Minute)
	return &sdk.WebhookResult{}, err
}

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, hubConnector{})
	sdktest.Conformance(t, tiktokConnector{})
}

func TestSignedWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := sdk.App{ClientSecret: "s"}
	body := []byte(`{"a":1}`)

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
