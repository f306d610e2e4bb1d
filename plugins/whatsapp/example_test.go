package whatsapp_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp"
	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// An inbound message from the sandbox's builder is parsed, and the reply
// goes to the emulator.
func Example() {
	emu := sandbox.New()
	emu.AddNumber("106540352242922", "+1 555-078-3881", "Lucky Shrub", "token")
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()

	app := sdk.App{APIBaseURL: srv.URL + "/v21.0", ClientSecret: "app-secret"}
	conn := whatsapp.New()
	ctx := context.Background()

	body := sandbox.TextMessage("106540352242922", "16505551234", "Sheena Nelson", "Does it come in blue?")
	res, err := conn.HandleWebhook(ctx, &sdk.WebhookRequest{
		App:    app,
		Header: map[string][]string{"X-Hub-Signature-256": {sandbox.Sign("app-secret", body)}},
		Body:   body,
	})
	if err != nil {
		panic(err)
	}
	in := res.Events[0].Message
	fmt.Printf("%s from %s (%s): %s\n", in.Type, in.Contact.Name, in.Contact.Phone, in.Text)

	_, err = conn.Send(ctx, &sdk.SendRequest{
		App: app, Credentials: sdk.Credentials{AccessToken: "token"},
		AccountID: res.Events[0].AccountID, Kind: sdk.SendDirect,
		RecipientID: in.ThreadID, ReplyToID: in.ExternalID, Text: "Yes, in blue and green.",
	})
	if err != nil {
		panic(err)
	}
	sent := emu.Sent()[0]
	fmt.Printf("sent %s to %s: %s\n", sent.Type, sent.To, sent.Text)
	// Output:
	// text from Sheena Nelson (+16505551234): Does it come in blue?
	// sent text to 16505551234: Yes, in blue and green.
}
