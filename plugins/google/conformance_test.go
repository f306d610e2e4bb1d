package google_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's contract with real Pub/Sub pushes. Their
// Authorization is a Google ID token (RS256) that the emulator signs and
// serves the key set of, as Google does: the push token authenticates
// the sender, not the body (SenderOnly). A forged push is signed with a
// key the key set does not hold.
func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, rogueKey := keys(t)
	body := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return data
	}
	sign := func(o sandbox.PushOptions) func(req *sdk.WebhookRequest) {
		return func(req *sdk.WebhookRequest) {
			tok, err := b.sb.Token(audience, o)
			require.NoError(t, err)
			req.Header["Authorization"] = []string{"Bearer " + tok}
		}
	}
	review := location + "/reviews/"
	sdktest.Conformance(t, b.raw, sdktest.Fixtures{
		App:        b.app,
		Sign:       sign(sandbox.PushOptions{}),
		Forge:      sign(sandbox.PushOptions{Key: rogueKey, KeyID: b.sb.KeyID()}),
		SenderOnly: true,
		Deliveries: []sdktest.Delivery{
			{Name: "new review", Body: body("new_review.json"), Want: []sdk.Event{{
				Kind: sdk.EventNotify, Platform: google.Platform, AccountID: location,
				Notify: &sdk.Notification{Type: google.TypeNewReview, ThreadKind: sdk.ThreadReview, ItemID: review + "AbFvOqmX3Q"},
			}}},
			{Name: "updated review, snake case", Body: body("updated_review_snake_case.json"), Want: []sdk.Event{{
				Kind: sdk.EventNotify, AccountID: location, Notify: &sdk.Notification{Type: google.TypeUpdatedReview},
			}}},
			{Name: "unwrapped", Body: body("unwrapped.json")},
			{Name: "from the emulator", Body: sandbox.Envelope(sandbox.Notification(google.TypeNewReview, review+"r1"), "42", b.now),
				Want: []sdk.Event{{Kind: sdk.EventNotify, Notify: &sdk.Notification{ItemID: review + "r1"}}}},
		},
		Malformed: [][]byte{
			[]byte(`{"message":{"data":"!!! not base64 !!!","messageId":"1"}}`),
			sandbox.Envelope([]byte(`{"notificationType":"NEW_REVIEW"}`), "43", b.now),
		},
	})
}
