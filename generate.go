// Package neksio is the root of the Neksio module. It holds no code: the
// generate directives below regenerate ent and the GraphQL server, in that
// order (gqlgen reads the schema entgql writes). The connector protocol is
// generated from internal/protogen.
package neksio

//go:generate go run ./ent/entc.go
//go:generate go run ./graph/gqlgen.go
