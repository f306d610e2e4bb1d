package sdk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/neksio/neksio/plugins/sdk"
)

// Serving a connector: main calls sdk.Serve(c) and the Neksio host
// launches the executable. Here the same go-plugin server runs in-process
// (go-plugin's test mode) and a host attaches to it the way Neksio does,
// with sdk.Handshake and the SDK's plugin sets: every call crosses gRPC.
func Example_serve() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reattach := make(chan *plugin.ReattachConfig, 1)
	stopped := make(chan struct{})
	serveCtx, stop := context.WithCancel(ctx)
	go plugin.Serve(&plugin.ServeConfig{ // what sdk.Serve(echoConnector{}) runs
		HandshakeConfig: sdk.Handshake,
		// sdk.Serve passes sdk.VersionedPlugins(c), and the host names
		// the versions it speaks; attached directly, the one set.
		Plugins:    sdk.VersionedPlugins(echoConnector{})[sdk.ProtocolVersion],
		GRPCServer: plugin.DefaultGRPCServer,
		Test:       &plugin.ServeTestConfig{Context: serveCtx, ReattachConfigCh: reattach, CloseCh: stopped},
	})

	// The host's side (a host that launches the executable passes
	// VersionedPlugins: sdk.PluginSets() instead of one set).
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.PluginSets()[sdk.ProtocolVersion],
		Reattach:         <-reattach,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
	})
	defer func() { client.Kill(); stop(); <-stopped }()
	rpc, err := client.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		fmt.Println(err)
		return
	}
	conn := raw.(sdk.Connector)

	desc, _ := conn.Describe(ctx)
	fmt.Printf("%s %s, protocol %d.%d\n", desc.Name, desc.Version, sdk.ProtocolVersion, desc.ProtocolMinor)

	body := []byte("hello over gRPC")
	res, err := conn.HandleWebhook(ctx, &sdk.WebhookRequest{
		App:    sdk.App{ClientSecret: "s3cret"},
		Header: map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256("s3cret", body)}},
		Body:   body,
	})
	fmt.Println(res.Events[0].Message.Text, err)

	// Errors keep their class across the plugin boundary.
	_, err = conn.HandleWebhook(ctx, &sdk.WebhookRequest{App: sdk.App{ClientSecret: "s3cret"}, Body: body})
	fmt.Println(sdk.ClassOf(err))
	_, err = conn.Publish(ctx, &sdk.PublishRequest{})
	fmt.Println(sdk.ClassOf(err))
	// Output:
	// echo 0.1.0, protocol 1.1
	// hello over gRPC <nil>
	// unauthenticated
	// unsupported
}
