package sdktest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/neksio/neksio/plugins/sdk"
)

// Connect serves c over real gRPC in-process, through the same go-plugin
// glue the host uses, and returns the host's side. Everything c returns
// crosses the protobuf converters, so a test through Connect sees what
// Neksio will see. The connection closes when the test ends.
func Connect(t testing.TB, c sdk.Connector) sdk.Connector {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		sdk.PluginName: &sdk.GRPCConnectorPlugin{Impl: c},
	})
	// Closing the client asks the server to stop (go-plugin's controller
	// Shutdown stops it inside that call); stopping it here as well raced
	// with that call under -race.
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense connector: %v", err)
	}
	conn, ok := raw.(sdk.Connector)
	if !ok {
		t.Fatalf("sdktest: dispensed %T, not a sdk.Connector", raw)
	}
	return conn
}

// Webhook returns a POST delivery of body with the given headers, received
// now, for app.
func Webhook(app sdk.App, body []byte, header http.Header) *sdk.WebhookRequest {
	h := map[string][]string{"Content-Type": {"application/json"}}
	for k, v := range header {
		h[k] = append([]string(nil), v...)
	}
	return &sdk.WebhookRequest{
		App:        app,
		Method:     http.MethodPost,
		Path:       "/webhooks",
		Header:     h,
		Body:       body,
		ReceivedAt: time.Now().UTC(),
	}
}

// HubSignedWebhook returns a delivery signed the way Meta and WhatsApp sign
// theirs: X-Hub-Signature-256 over the body with app.ClientSecret.
func HubSignedWebhook(app sdk.App, body []byte) *sdk.WebhookRequest {
	return Webhook(app, body, http.Header{
		"X-Hub-Signature-256": {sdk.HubSignature256(app.ClientSecret, body)},
	})
}

// TikTokSignedWebhook returns a delivery signed the way TikTok signs its
// own: Tiktok-Signature over "<unix time>.<body>" with app.ClientSecret.
func TikTokSignedWebhook(app sdk.App, at time.Time, body []byte) *sdk.WebhookRequest {
	return Webhook(app, body, http.Header{
		"Tiktok-Signature": {sdk.TikTokSignature(app.ClientSecret, at, body)},
	})
}

// HMACSignedWebhook returns a delivery carrying the hex HMAC-SHA256 of the
// body, keyed with app.ClientSecret, in header (the scheme most generic
// webhook senders use).
func HMACSignedWebhook(app sdk.App, header string, body []byte) *sdk.WebhookRequest {
	return Webhook(app, body, http.Header{
		header: {sdk.HMACSHA256Hex([]byte(app.ClientSecret), body)},
	})
}

// RequireClass fails the test unless err is a *sdk.Error of class want.
func RequireClass(t testing.TB, want sdk.ErrorClass, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %s error, got none", want)
	}
	if got := sdk.ClassOf(err); got != want {
		t.Fatalf("want a %s error, got %s: %v", want, got, err)
	}
}

func background(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
