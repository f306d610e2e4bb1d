// Package sdk is the public SDK for Neksio connector plugins.
//
// A connector links Neksio to one platform (WhatsApp, Meta, Google, TikTok,
// or anything a third party adds). It runs as its own process, started by
// the Neksio host through HashiCorp go-plugin over gRPC with mutual TLS.
// Authors implement the plain Go interface Connector and call Serve from
// main; the protobuf protocol (proto/connector/v1) stays behind converters,
// and its generated code is internal to this module.
//
// A connector keeps no state: every call carries the app settings and the
// channel credentials it needs, and the host keeps secrets encrypted at rest.
//
// # Compatibility
//
// Two versions move independently.
//
// The protocol, ProtocolVersion.ProtocolMinor (1.1), is the wire contract
// between the host and a plugin. The go-plugin handshake carries its major
// only. A minor version only adds calls, fields and capabilities; it never
// changes or removes one. So plugins built with an older minor keep
// working: the host answers the calls such a plugin does not know as
// ClassUnsupported (the plugin's gRPC UNIMPLEMENTED), and a field it does
// not know is absent, whose zero value means "not stated". A plugin built
// with a newer minor works with an older host, which never makes the calls
// it does not know. A breaking change is a new major (connector/v2), served
// next to v1 through VersionedPlugins.
//
// The Go module, github.com/neksio/neksio/plugins/sdk, follows semantic
// versioning with tags plugins/sdk/vX.Y.Z. While it is v0, a change that
// breaks the Go API (a renamed identifier, a changed signature) comes only
// with a minor bump (v0.2 to v0.3), never in a patch, and CHANGELOG.md
// lists it under "Breaking". A third party depends on a tag:
//
//	go get github.com/neksio/neksio/plugins/sdk@v0.2.0
//
// # Testing
//
// Package sdktest serves a connector over real gRPC in-process (Connect)
// and checks the contract with the connector's own signer and deliveries
// (Conformance with Fixtures).
package sdk
