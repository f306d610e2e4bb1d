package sdk_test

import (
	"context"
	"fmt"

	"github.com/neksio/neksio/plugins/sdk"
)

// echoConnector is the smallest useful connector: it turns a signed
// delivery into one inbound message. Everything else answers
// ErrUnsupported through the embedded UnimplementedConnector.
type echoConnector struct {
	sdk.UnimplementedConnector
}

func (echoConnector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:         "echo",
		Version:      "0.1.0",
		Platforms:    []string{"echo"},
		Capabilities: []sdk.Capability{sdk.CapWebhook},
	}, nil
}

func (echoConnector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	// Verify before parsing: an unverifiable delivery is never trusted.
	if err := sdk.VerifyHubSignature256(req.App.ClientSecret, req.Body, sdk.HeaderValue(req.Header, "X-Hub-Signature-256")); err != nil {
		return nil, err
	}
	return &sdk.WebhookResult{Events: []*sdk.Event{{
		Kind:      sdk.EventMessage,
		Platform:  "echo",
		AccountID: "demo",
		Message: &sdk.Message{
			ExternalID: "1", Action: sdk.ActionCreated, Direction: sdk.Inbound,
			ThreadKind: sdk.ThreadDirect, ThreadID: "someone", Type: "text", Text: string(req.Body),
		},
	}}}, nil
}

// A connector's main is one line: sdk.Serve(echoConnector{}). The host
// launches the executable; run by hand it only explains it is a plugin.
// Here the connector is called directly to show what it answers.
func Example() {
	// func main() { sdk.Serve(echoConnector{}) }
	var c sdk.Connector = echoConnector{}

	body := []byte("hello")
	res, err := c.HandleWebhook(context.Background(), &sdk.WebhookRequest{
		App:    sdk.App{ClientSecret: "s3cret"},
		Header: map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256("s3cret", body)}},
		Body:   body,
	})
	fmt.Println(res.Events[0].Message.Text, err)

	_, err = c.HandleWebhook(context.Background(), &sdk.WebhookRequest{App: sdk.App{ClientSecret: "s3cret"}, Body: body})
	fmt.Println(sdk.ClassOf(err))

	_, err = c.Send(context.Background(), &sdk.SendRequest{})
	fmt.Println(sdk.ClassOf(err))
	// Output:
	// hello <nil>
	// unauthenticated
	// unsupported
}
