// Package protogen regenerates the connector plugin protocol's Go code
// (plugins/sdk/internal/genproto) from plugins/sdk/proto with `go generate ./...`.
//
// It lives in the root module because buf and the protoc plugins are pinned
// there as tools; the SDK module only holds their output. buf runs from this
// directory, so the plugins it spawns (`go tool protoc-gen-go`) resolve in the
// root module too, and --output points the template's paths at the root.
package protogen

//go:generate go tool buf generate --template ../../plugins/sdk/buf.gen.yaml --output ../.. ../../plugins/sdk
