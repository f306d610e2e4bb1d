package google_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

const reviewName = location + "/reviews/r7"

func TestWebhookValidPush(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t, sandbox.Notification(google.TypeNewReview, reviewName), sandbox.PushOptions{}))
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	ev := res.Events[0]
	require.Equal(t, sdk.EventNotify, ev.Kind)
	require.Equal(t, google.Platform, ev.Platform)
	require.Equal(t, location, ev.AccountID)
	require.True(t, ev.OccurredAt.Equal(b.now), "publishTime: %v", ev.OccurredAt)
	require.Equal(t, &sdk.Notification{Type: google.TypeNewReview, ThreadKind: sdk.ThreadReview, ItemID: reviewName}, ev.Notify)
	require.Zero(t, b.sb.Requests(), "parsing a push never calls the Business Profile API")
}

func TestWebhookRefusesBadTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, rogueKey := keys(t)
	data := sandbox.Notification(google.TypeNewReview, reviewName)
	for name, o := range map[string]sandbox.PushOptions{
		"no token":                       {NoToken: true},
		"expired":                        {TTL: -time.Minute},
		"expired long ago":               {IssuedAt: b.now.Add(-3 * time.Hour)},
		"another audience":               {Audience: "https://attacker.example.com/webhooks/google"},
		"another key, unknown kid":       {Key: rogueKey, KeyID: "rogue"},
		"another key, the sandbox's kid": {Key: rogueKey, KeyID: b.sb.KeyID()},
		"another service account":        {ServiceAccount: "someone@other-project.iam.gserviceaccount.com"},
		"email not verified":             {EmailUnverified: true},
		"another issuer":                 {Issuer: "https://evil.example.com"},
		"issued in the future":           {IssuedAt: b.now.Add(time.Hour)},
	} {
		_, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t, data, o))
		require.Error(t, err, name)
		require.Equal(t, sdk.ClassUnauthenticated, sdk.ClassOf(err), "%s: %v", name, err)
	}

	req := b.pushRequest(t, data, sandbox.PushOptions{})
	req.Header["Authorization"] = []string{"Basic dXNlcjpwYXNz"}
	_, err := b.conn.HandleWebhook(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)

	req = b.pushRequest(t, data, sandbox.PushOptions{})
	req.Header["Authorization"] = []string{"Bearer not.a.jwt"}
	_, err = b.conn.HandleWebhook(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)
}

func TestWebhookAcceptsSchemelessIssuer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t, sandbox.Notification(google.TypeUpdatedReview, reviewName),
		sandbox.PushOptions{Issuer: "accounts.google.com"}))
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
}

func TestWebhookNeedsConfiguration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := sandbox.Notification(google.TypeNewReview, reviewName)
	for setting, want := range map[string]string{
		google.SettingPubSubAudience: "NEKSIO_GOOGLE_PUBSUB_AUDIENCE",
		google.SettingPubSubAccount:  "NEKSIO_GOOGLE_PUBSUB_SERVICE_ACCOUNT",
	} {
		req := b.pushRequest(t, data, sandbox.PushOptions{})
		req.App.Settings = map[string]string{}
		for k, v := range b.app.Settings {
			if k != setting {
				req.App.Settings[k] = v
			}
		}
		_, err := b.conn.HandleWebhook(ctx(t), req)
		sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)
		require.Contains(t, err.Error(), want)
	}
}

func TestWebhookKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := sandbox.Notification(google.TypeNewReview, reviewName)
	for range 3 {
		_, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t, data, sandbox.PushOptions{}))
		require.NoError(t, err)
	}
	require.Equal(t, 1, b.sb.JWKSFetches(), "keys are cached across pushes")

	kid := b.sb.RotateKey()
	require.NotEqual(t, "sandbox-1", kid)
	for range 2 {
		_, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t, data, sandbox.PushOptions{}))
		require.NoError(t, err, "a token signed with the new key verifies")
	}
	require.Equal(t, 2, b.sb.JWKSFetches(), "an unknown key id refetches the keys once")
}

func TestWebhookUnreachableKeysAreRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.pushRequest(t, sandbox.Notification(google.TypeNewReview, reviewName), sandbox.PushOptions{})
	req.App.Settings[google.SettingJWKSURL] = b.srv.URL + "/no-keys-here"
	_, err := b.conn.HandleWebhook(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
}

func TestWebhookMalformed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, body := range map[string]string{
		"not JSON":                  `<xml/>`,
		"JSON array":                `[1,2]`,
		"message not an object":     `{"message":"hello"}`,
		"no data":                   `{"message":{"messageId":"1"},"subscription":"s"}`,
		"bad base64":                `{"message":{"data":"%%%not base64%%%","messageId":"1"}}`,
		"data not JSON":             `{"message":{"data":"` + b64("NEW_REVIEW") + `"}}`,
		"no type":                   `{"message":{"data":"` + b64(`{"reviewName":"`+reviewName+`"}`) + `"}}`,
		"review without name":       `{"message":{"data":"` + b64(`{"notificationType":"NEW_REVIEW"}`) + `"}}`,
		"review name malformed":     `{"message":{"data":"` + b64(`{"notificationType":"NEW_REVIEW","reviewName":"accounts/1/../2/reviews/3"}`) + `"}}`,
		"review name is a location": `{"message":{"data":"` + b64(`{"notificationType":"NEW_REVIEW","reviewName":"`+location+`"}`) + `"}}`,
		"location of another review": `{"message":{"data":"` + b64(`{"notificationType":"NEW_REVIEW","reviewName":"`+reviewName+
			`","locationName":"accounts/1/locations/9"}`) + `"}}`,
		"type not a string":  `{"message":{"data":"` + b64(`{"notificationType":7}`) + `"}}`,
		"unwrapped, no type": `{"reviewName":"` + reviewName + `"}`,
	} {
		_, err := b.conn.HandleWebhook(ctx(t), b.pushBody(t, []byte(body), sandbox.PushOptions{}))
		require.Error(t, err, name)
		require.Equal(t, sdk.ClassMalformed, sdk.ClassOf(err), "%s: %v", name, err)
	}
}

func TestWebhookFieldNameVariants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, data := range map[string]string{
		"v4 names":                 `{"notificationType":"NEW_REVIEW","reviewName":"` + reviewName + `","locationName":"` + location + `"}`,
		"v1 snake_case names":      `{"notification_type":"NEW_REVIEW","review_name":"` + reviewName + `","location_name":"` + location + `"}`,
		"short names":              `{"type":"NEW_REVIEW","review":"` + reviewName + `","location":"` + location + `"}`,
		"review as a resource":     `{"type":"NEW_REVIEW","review":{"name":"` + reviewName + `"}}`,
		"review id and location":   `{"notificationType":"NEW_REVIEW","reviewId":"r7","locationName":"` + location + `"}`,
		"review name as an id":     `{"notificationType":"NEW_REVIEW","reviewName":"r7","locationName":"` + location + `"}`,
		"location without account": `{"notificationType":"NEW_REVIEW","reviewName":"` + reviewName + `","locationName":"locations/2"}`,
		"no location":              `{"notificationType":"NEW_REVIEW","reviewName":"` + reviewName + `"}`,
		"lower-case type":          `{"notificationType":"new_review","reviewName":"` + reviewName + `"}`,
		"null fields skipped":      `{"notificationType":"NEW_REVIEW","reviewName":null,"review":"` + reviewName + `"}`,
	} {
		res, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t, []byte(data), sandbox.PushOptions{}))
		require.NoError(t, err, name)
		require.Len(t, res.Events, 1, name)
		require.Equal(t, location, res.Events[0].AccountID, name)
		require.Equal(t, &sdk.Notification{Type: google.TypeNewReview, ThreadKind: sdk.ThreadReview, ItemID: reviewName}, res.Events[0].Notify, name)
	}
}

func TestWebhookUnwrappedPayload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.pushBody(t, sandbox.Notification(google.TypeUpdatedReview, reviewName), sandbox.PushOptions{})
	req.Header["X-Goog-Pubsub-Publish-Time"] = []string{"2026-03-04T05:06:07Z"}
	res, err := b.conn.HandleWebhook(ctx(t), req)
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	require.Equal(t, google.TypeUpdatedReview, res.Events[0].Notify.Type)
	require.Equal(t, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), res.Events[0].OccurredAt)
}

func TestWebhookOtherTypesBringNoEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, typ := range []string{"GOOGLE_UPDATE", "NEW_CUSTOMER_MEDIA", "NEW_QUESTION", "VOICE_OF_MERCHANT_UPDATED"} {
		res, err := b.conn.HandleWebhook(ctx(t), b.pushRequest(t,
			[]byte(`{"notificationType":"`+typ+`","locationName":"`+location+`"}`), sandbox.PushOptions{}))
		require.NoError(t, err, typ)
		require.Empty(t, res.Events, typ)
	}
}

// TestPushOverHTTP runs the emulator's Push helper against an endpoint
// that hands the request to the connector the way the host does.
func TestPushOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := make(chan *sdk.WebhookResult, 1)
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := b.conn.HandleWebhook(r.Context(), &sdk.WebhookRequest{App: b.app, Method: r.Method, Path: r.URL.Path,
			Header: r.Header, Body: body, ReceivedAt: b.now})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- res
	})
	hook := httptestServer(t, endpoint)
	// The default audience of a push subscription is its endpoint URL.
	req := b.app
	req.Settings = map[string]string{google.SettingPubSubAudience: hook + "/webhooks/google", google.SettingPubSubAccount: sandbox.DefaultServiceAccount}
	b.app = req
	resp, err := b.sb.Push(ctx(t), nil, hook+"/webhooks/google", sandbox.Notification(google.TypeNewReview, reviewName), sandbox.PushOptions{})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	res := <-got
	require.Equal(t, reviewName, res.Events[0].Notify.ItemID)

	resp, err = b.sb.Push(ctx(t), nil, hook+"/webhooks/google", sandbox.Notification(google.TypeNewReview, reviewName), sandbox.PushOptions{NoToken: true})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestTestdataPushes pins what the fuzz seeds parse to.
func TestTestdataPushes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const review = location + "/reviews/AbFvOqmX3Q"
	for file, want := range map[string]string{
		"new_review.json":                google.TypeNewReview,
		"updated_review_snake_case.json": google.TypeUpdatedReview,
		"short_names.json":               google.TypeNewReview,
		"review_id_with_location.json":   google.TypeNewReview,
		"unwrapped.json":                 google.TypeUpdatedReview,
		"google_update.json":             "",
		"new_question.json":              "",
	} {
		body, err := os.ReadFile(filepath.Join("testdata", file))
		require.NoError(t, err)
		res, err := b.conn.HandleWebhook(ctx(t), b.pushBody(t, body, sandbox.PushOptions{}))
		require.NoError(t, err, file)
		if want == "" {
			require.Empty(t, res.Events, file)
			continue
		}
		require.Len(t, res.Events, 1, file)
		require.Equal(t, want, res.Events[0].Notify.Type, file)
		require.Equal(t, review, res.Events[0].Notify.ItemID, file)
		require.Equal(t, location, res.Events[0].AccountID, file)
	}
}
