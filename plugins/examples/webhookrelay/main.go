// Command webhookrelay is an example Neksio connector, written the way a
// third party would write one: it imports only the public SDK and the
// standard library, builds into a single executable, and is installed by
// copying that executable into NEKSIO_PLUGIN_DIR. See README.md.
//
// It relays a generic chat system: the system POSTs JSON deliveries signed
// with an HMAC-SHA256 hex X-Relay-Signature header, and accepts replies at
// <APIBaseURL>/messages.
package main

import "github.com/neksio/neksio/plugins/sdk"

func main() {
	sdk.Serve(&Relay{})
}
