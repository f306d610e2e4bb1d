package google_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

// A Pub/Sub push names a review; the host then reads it with Sync{Only}
// and stores the review (and its reply, once there is one).
func ExampleNew_reviewNotification() {
	ctx := context.Background()
	sb := sandbox.New()
	srv := httptest.NewServer(sb)
	defer srv.Close()
	review := sb.CreateReview("1", "2", sandbox.NewReview{Reviewer: "Ann", Stars: 2, Text: "Cold coffee"})
	tokens := sb.Grant()

	c := google.New(google.WithHTTPClient(srv.Client()))
	app := sdk.App{APIBaseURL: srv.URL, Settings: map[string]string{
		google.SettingPubSubAudience: "https://neksio.example.com/webhooks/google",
		google.SettingPubSubAccount:  sandbox.DefaultServiceAccount,
	}}

	// The push, as Google sends it.
	token, _ := sb.Token("https://neksio.example.com/webhooks/google", sandbox.PushOptions{})
	body := sandbox.Envelope(sandbox.Notification(google.TypeNewReview, review.Name), sb.NextMessageID(), time.Now())
	res, err := c.HandleWebhook(ctx, &sdk.WebhookRequest{App: app, Method: http.MethodPost, Body: body,
		Header: map[string][]string{"Authorization": {"Bearer " + token}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := res.Events[0]
	fmt.Println(ev.Kind, ev.AccountID, ev.Notify.Type, ev.Notify.ItemID)

	// The host's fetch before it acknowledges the push.
	page, err := c.Sync(ctx, &sdk.SyncRequest{App: app, AccountID: ev.AccountID, Only: []string{ev.Notify.ItemID},
		Credentials: sdk.Credentials{AccessToken: tokens.AccessToken}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range page.Events {
		m := ev.Message
		fmt.Println(m.ThreadKind, m.Direction, m.Action, m.Contact.Name, m.Rating, m.Text)
	}
	// Output:
	// notify accounts/1/locations/2 NEW_REVIEW accounts/1/locations/2/reviews/r1
	// review inbound created Ann 2 Cold coffee
}
