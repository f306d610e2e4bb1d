// Package sdk is the public SDK for Neksio connector plugins.
//
// A connector links Neksio to one platform (WhatsApp, Meta, Google, TikTok,
// or anything a third party adds). It runs as its own process, started by
// the Neksio host through HashiCorp go-plugin over gRPC with mutual TLS.
// Authors implement the plain Go interface Connector and call Serve from
// main; the protobuf protocol (proto/connector/v1) stays behind converters.
//
// A connector keeps no state: every call carries the app settings and the
// channel credentials it needs, and the host keeps secrets encrypted at rest.
package sdk
