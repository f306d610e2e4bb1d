package tiktok_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
)

// TestConformance runs the SDK's contract with real deliveries, signed
// as TikTok signs them (Tiktok-Signature over "<time>.<body>" with the
// client secret), tampered, forged and truncated.
func TestConformance(t *testing.T) {
	t.Parallel()
	body := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return b
	}
	sign := func(secret string) func(req *sdk.WebhookRequest) {
		return func(req *sdk.WebhookRequest) {
			req.Header[tiktok.SignatureHeader] = []string{sdk.TikTokSignature(secret, req.ReceivedAt, req.Body)}
		}
	}
	const secret = "conformance-client-secret"
	const user = "0b7c2f1e-5d7a-4a8e-9c3b-b1d2e3f4a5b6"
	sdktest.Conformance(t, tiktok.New(), sdktest.Fixtures{
		App:   sdk.App{ClientID: "test-client-key", ClientSecret: secret},
		Sign:  sign(secret),
		Forge: sign("another-client-secret"),
		Deliveries: []sdktest.Delivery{
			{Name: "direct message", Body: body("dm_text.json"), Want: []sdk.Event{{
				Kind: sdk.EventMessage, Platform: tiktok.Platform, AccountID: user,
				Message: &sdk.Message{ExternalID: "7391000000000000001", Direction: sdk.Inbound, ThreadKind: sdk.ThreadDirect, Text: "Do you ship to Lisbon?"},
			}}},
			{Name: "comment (a notification)", Body: body("comment_update_insert.json"), Want: []sdk.Event{{Kind: sdk.EventNotify, AccountID: user}}},
			{Name: "post published", Body: body("post_publish_complete.json"), Want: []sdk.Event{{
				Kind: sdk.EventPublish, AccountID: user,
				Publish: &sdk.PublishResult{ExternalID: "v_pub_url~v2.7300000000000000042"},
			}}},
			{Name: "authorization removed", Body: body("authorization_removed.json"), Want: []sdk.Event{{Kind: sdk.EventAccount}}},
		},
		Malformed: [][]byte{[]byte(`{"client_key":"test-client-key","create_time":1748779200}`)},
	})
}
