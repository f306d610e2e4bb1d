// Package sandbox emulates every Google endpoint the google connector
// calls, for tests and `neksio sandbox`: Business Profile reviews (list
// with pagination and orderBy, get, reply put/delete), local posts
// (create, get, list; PROCESSING → LIVE, or REJECTED when told), account
// and location listings, the OAuth consent page, token and revoke
// endpoints, and a JWKS whose RSA key signs the Pub/Sub push tokens that
// Push sends. It injects failures (FailNext) and enforces a per-minute
// quota like Google's 300 requests a minute per project.
//
// Everything lives under one base URL:
//
//	/v4/...                    mybusiness.googleapis.com/v4
//	/accountmanagement/v1/...  mybusinessaccountmanagement.googleapis.com/v1
//	/businessinformation/v1/...mybusinessbusinessinformation.googleapis.com/v1
//	/o/oauth2/v2/auth          accounts.google.com/o/oauth2/v2/auth
//	/token, /revoke            oauth2.googleapis.com/token, /revoke
//	/oauth2/v3/certs           www.googleapis.com/oauth2/v3/certs
//
// Control endpoints under /_sandbox/google/ let another process (neksio
// simulate) create, edit and delete reviews, grant tokens, rotate the
// signing key and inject failures; when a push target is set, review
// changes are pushed to it as signed Pub/Sub notifications.
//
// Ids are sequential per Server, so tests are deterministic; every Server
// is independent, so tests may run in parallel.
package sandbox
