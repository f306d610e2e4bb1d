package whatsapp_test

import (
	"testing"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/whatsapp"
)

// TestConformance runs the SDK's contract with real deliveries: signed as
// Meta signs them (X-Hub-Signature-256 with the app secret), tampered,
// forged, truncated, and the GET subscription handshake.
func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, whatsapp.New(), sdktest.Fixtures{
		App:  sdk.App{ClientSecret: appSecret, VerifyToken: "conformance-verify-token"},
		Sign: sdktest.HubSigner,
		Forge: func(req *sdk.WebhookRequest) {
			req.Header["X-Hub-Signature-256"] = []string{sdk.HubSignature256("another-app-secret", req.Body)}
		},
		Deliveries: []sdktest.Delivery{
			{Name: "text", Body: fixture(t, "text.json"), Want: []sdk.Event{{
				Kind: sdk.EventMessage, Platform: whatsapp.Platform, AccountID: phoneID,
				Message: &sdk.Message{
					ExternalID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
					Direction:  sdk.Inbound, ThreadKind: sdk.ThreadDirect, ThreadID: customer,
					Text: "Does it come in another color?",
				},
			}}},
			{Name: "statuses", Body: fixture(t, "statuses.json"), Want: []sdk.Event{
				{Kind: sdk.EventStatus, AccountID: phoneID, Status: &sdk.StatusUpdate{MessageExternalID: "wamid.OUT1", Status: sdk.StatusSent}},
				{Kind: sdk.EventStatus, AccountID: phoneID, Status: &sdk.StatusUpdate{MessageExternalID: "wamid.OUT1", Status: sdk.StatusDelivered}},
			}},
			{Name: "batched", Body: fixture(t, "batched.json")},
			{Name: "image", Body: fixture(t, "image.json")},
		},
		Malformed: [][]byte{[]byte(`{"object":"page","entry":[]}`)},
		Handshake: sdktest.HubHandshake,
	})
}
