package main

import (
	"testing"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's contract with real deliveries, signed as
// the relay signs them (the hex HMAC-SHA256 of the body in
// X-Relay-Signature), tampered, forged and truncated.
func TestConformance(t *testing.T) {
	t.Parallel()
	sign := func(secret string) func(req *sdk.WebhookRequest) {
		return func(req *sdk.WebhookRequest) {
			req.Header[SignatureHeader] = []string{sdk.HMACSHA256Hex([]byte(secret), req.Body)}
		}
	}
	sdktest.Conformance(t, &Relay{}, sdktest.Fixtures{
		App:   sdk.App{ClientSecret: "relay-secret"},
		Sign:  sign("relay-secret"),
		Forge: sign("another-secret"),
		Deliveries: []sdktest.Delivery{{
			Name: "two messages",
			Body: []byte(`{"account":"shop-1","messages":[
				{"id":"m1","from":"u1","name":"Ada","text":"Do you ship to Lyon?","timestamp":1767225600},
				{"id":"m2","from":"u2","text":"hi"}]}`),
			Want: []sdk.Event{
				{Kind: sdk.EventMessage, Platform: "relay", AccountID: "shop-1", Message: &sdk.Message{
					ExternalID: "m1", Direction: sdk.Inbound, ThreadID: "u1", Text: "Do you ship to Lyon?"}},
				{Kind: sdk.EventMessage, AccountID: "shop-1", Message: &sdk.Message{ExternalID: "m2", Text: "hi"}},
			},
		}},
		Malformed: [][]byte{[]byte(`{"messages":[]}`)},
	})
}
