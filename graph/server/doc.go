// Package server serves /graphql over HTTP: gqlgen's handler with explicit
// transports (WebSocket with graphql-transport-ws and graphql-ws, SSE,
// GET, POST, multipart), authentication of each request or connection,
// per-key rate limits, body limits, per-request and per-workspace resolver
// budgets, the origin check (OriginAllowed) and the realtime connections'
// close codes, keep-alive and credential checks. The resolvers and the
// schema wiring are package graph; a subscription reaches its connection
// only through graph.Conn, which this package implements.
package server
