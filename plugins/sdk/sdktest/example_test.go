package sdktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

// relay is a third party's connector: deliveries carry the hex
// HMAC-SHA256 of the body, keyed with the app's client secret, in
// X-Relay-Signature.
type relay struct{ sdk.UnimplementedConnector }

func (relay) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "relay", Version: "1.0.0", Platforms: []string{"relay"},
		Capabilities: []sdk.Capability{sdk.CapWebhook}}, nil
}

func (relay) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	sig := sdk.HeaderValue(req.Header, "X-Relay-Signature")
	if req.App.ClientSecret == "" || !sdk.VerifyHMACSHA256Hex([]byte(req.App.ClientSecret), req.Body, sig) {
		return nil, sdk.NewError(sdk.ClassUnauthenticated, "", "missing or invalid X-Relay-Signature")
	}
	var d struct{ Account, ID, From, Text string }
	if err := json.Unmarshal(req.Body, &d); err != nil || d.ID == "" {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "not a relay delivery")
	}
	return &sdk.WebhookResult{Events: []*sdk.Event{{
		Kind: sdk.EventMessage, Platform: "relay", AccountID: d.Account, OccurredAt: req.ReceivedAt,
		Message: &sdk.Message{ExternalID: d.ID, Action: sdk.ActionCreated, Direction: sdk.Inbound,
			ThreadKind: sdk.ThreadDirect, ThreadID: d.From, Type: "text", Text: d.Text},
	}}}, nil
}

// sign is the relay's signer: what the platform adds to a delivery.
func sign(secret string) func(*sdk.WebhookRequest) {
	return func(req *sdk.WebhookRequest) {
		req.Header["X-Relay-Signature"] = []string{sdk.HMACSHA256Hex([]byte(secret), req.Body)}
	}
}

// fixtures hand Conformance the signer, a forger and valid payloads with
// the events each yields at least.
var fixtures = sdktest.Fixtures{
	App:   sdk.App{ClientSecret: "relay-secret"},
	Sign:  sign("relay-secret"),
	Forge: sign("another-secret"),
	Deliveries: []sdktest.Delivery{{
		Name: "text",
		Body: []byte(`{"account":"shop-1","id":"m1","from":"u1","text":"Do you ship to Lyon?"}`),
		Want: []sdk.Event{{Kind: sdk.EventMessage, AccountID: "shop-1",
			Message: &sdk.Message{ExternalID: "m1", ThreadID: "u1", Text: "Do you ship to Lyon?"}}},
	}},
	Malformed: [][]byte{[]byte(`{"account":"shop-1"}`)},
}

// A connector's conformance test is one call with its signer and
// fixtures; Conformance serves the connector over gRPC and runs every
// check in subtests:
//
//	func TestConformance(t *testing.T) {
//		t.Parallel()
//		sdktest.Conformance(t, relay{}, fixtures)
//	}
//
// (this package's own tests run exactly that). Here, some of the checks
// it runs, by hand: a valid signed delivery yields the events wanted,
// under a key (EventKey); the same body changed after signing, or signed
// with another key, is refused as unauthenticated; a signed body that is
// not a delivery as malformed.
func ExampleConformance() {
	ctx := context.Background()
	c := relay{}
	d := fixtures.Deliveries[0]
	delivery := func(body []byte, signer func(*sdk.WebhookRequest)) *sdk.WebhookRequest {
		req := sdktest.Webhook(fixtures.App, body, nil)
		req.ReceivedAt = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		signer(req)
		return req
	}

	res, err := c.HandleWebhook(ctx, delivery(d.Body, fixtures.Sign))
	fmt.Println(err, sdktest.EventKey(res.Events[0]), sdktest.Match(&d.Want[0], res.Events[0]))

	tampered := delivery(d.Body, fixtures.Sign)
	tampered.Body = []byte(`{"account":"shop-1","id":"m1","from":"u1","text":"Do you ship to Lyon!"}`)
	_, err = c.HandleWebhook(ctx, tampered)
	fmt.Println(sdk.ClassOf(err))

	_, err = c.HandleWebhook(ctx, delivery(d.Body, fixtures.Forge))
	fmt.Println(sdk.ClassOf(err))

	_, err = c.HandleWebhook(ctx, delivery(fixtures.Malformed[0], fixtures.Sign))
	fmt.Println(sdk.ClassOf(err))
	// Output:
	// <nil> message|relay|shop-1|m1|created true
	// unauthenticated
	// unauthenticated
	// malformed
}
