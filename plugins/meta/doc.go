// Package meta is Neksio's connector for Meta's Graph API: Facebook Pages
// (Messenger conversations, Page comments, Page posts) and Instagram
// professional accounts (DMs, comments, media publishing). One connector
// named "meta" serves both platforms because they share the Graph API, the
// app secret that signs webhooks, and the Send API.
//
// The connector is stateless: every call carries the app settings (app
// secret, verify token, API base URL) and the channel's page or Instagram
// token. It never calls the platform while parsing a webhook, so the host
// can commit events before answering Meta.
//
// Errors are classified from the Graph error object (code, error_subcode,
// is_transient) and the HTTP status, so the host knows whether to retry,
// ask for a human agent's tag, reconnect the channel or give up.
//
// The sandbox subpackage emulates every Graph endpoint used here, for tests
// and for `neksio sandbox`. See docs/meta.md.
package meta
