package meta_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's contract with real deliveries of
// Messenger, Instagram and the Page feed: signed as Meta signs them
// (X-Hub-Signature-256 with the app secret), tampered, forged, truncated,
// and the GET subscription handshake.
func TestConformance(t *testing.T) {
	t.Parallel()
	body := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return b
	}
	sdktest.Conformance(t, meta.New(), sdktest.Fixtures{
		App:  sdk.App{ClientSecret: "conformance-app-secret", VerifyToken: "conformance-verify-token"},
		Sign: sdktest.HubSigner,
		Forge: func(req *sdk.WebhookRequest) {
			req.Header["X-Hub-Signature-256"] = []string{sdk.HubSignature256("another-app-secret", req.Body)}
		},
		Deliveries: []sdktest.Delivery{
			{Name: "messenger text", Body: body("messenger_text.json"), Want: []sdk.Event{{
				Kind: sdk.EventMessage, Platform: meta.PlatformFacebook, AccountID: "111111111111111",
				Message: &sdk.Message{ExternalID: "m_text1", Direction: sdk.Inbound, ThreadKind: sdk.ThreadDirect, Text: "hello"},
			}}},
			{Name: "page comment", Body: body("feed_comment_add.json"), Want: []sdk.Event{{
				Kind: sdk.EventMessage, Platform: meta.PlatformFacebook,
				Message: &sdk.Message{ExternalID: "900_3001", ThreadKind: sdk.ThreadComment, ThreadID: "111111111111111_900"},
			}}},
			{Name: "instagram dm", Body: body("ig_dm.json"), Want: []sdk.Event{{Kind: sdk.EventMessage, Platform: meta.PlatformInstagram}}},
			{Name: "messenger delivery", Body: body("messenger_delivery.json"), Want: []sdk.Event{{Kind: sdk.EventStatus}}},
			{Name: "batch", Body: body("batch.json")},
		},
		Handshake: sdktest.HubHandshake,
	})
}
