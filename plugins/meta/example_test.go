package meta_test

import (
	"context"
	"fmt"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

// A signed Messenger delivery becomes one inbound DM in the customer's
// thread; the Page's own comment is marked outbound so agents skip it.
func ExampleNew_handleWebhook() {
	c := meta.New()
	for _, body := range [][]byte{
		sandbox.MessengerText("1001", "2002", "Are you open today?"),
		sandbox.PageSelfComment("1001", "1001_55", "Yes, until 6pm"),
	} {
		res, err := c.HandleWebhook(context.Background(), &sdk.WebhookRequest{
			App:    sdk.App{ClientSecret: "app-secret"},
			Header: map[string][]string{"X-Hub-Signature-256": {sandbox.Sign("app-secret", body)}},
			Body:   body,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, ev := range res.Events {
			m := ev.Message
			fmt.Println(ev.Platform, ev.AccountID, m.ThreadKind, m.ThreadID, m.Direction, m.Text)
		}
	}
	// Output:
	// facebook 1001 direct 2002 inbound Are you open today?
	// facebook 1001 comment 1001_55 outbound Yes, until 6pm
}
