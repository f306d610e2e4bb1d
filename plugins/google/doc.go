// Package google is Neksio's connector for Google Business Profile: the
// reviews of a location become conversations (one per review) that agents
// answer, Pub/Sub push notifications name the reviews that changed, local
// posts (STANDARD, EVENT, OFFER) are a publishing target, and OAuth
// (offline access, refresh tokens) connects the locations a person
// manages.
//
// The connector is stateless apart from one cache: the Google signing
// keys (JWKS) that verify Pub/Sub push tokens, kept per JWKS URL for the
// life of the process and refetched when a token names an unknown key
// (rotation). HandleWebhook may fetch those keys, never the Business
// Profile API: it answers an EventNotify naming the review, and the host
// reads the review with Sync{Only} before it acknowledges the push.
//
// The sandbox subpackage emulates every Google endpoint used here, for
// tests and `neksio sandbox`. See docs/google.md.
package google
