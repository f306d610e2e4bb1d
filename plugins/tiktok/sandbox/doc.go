// Package sandbox emulates the TikTok endpoints the tiktok connector
// calls, for tests and `neksio sandbox`, as one http.Handler serving both
// APIs under one base URL:
//
//   - /v2/auth/authorize/ (the consent page: an HTML form redirecting back
//     with code and state, or error=access_denied), /v2/oauth/token/
//     (authorization_code and refresh_token grants; refresh tokens rotate),
//     /v2/oauth/revoke/ and /v2/user/info/ (Login Kit);
//   - /v2/post/publish/creator_info/query/, /video/init/ (PULL_FROM_URL;
//     nothing is fetched) and /status/fetch/ (PROCESSING_DOWNLOAD, then
//     PUBLISH_COMPLETE, or FAILED with a reason) (Content Posting API);
//   - /open_api/v1.3/business/message/send/ (the 48-hour window and its
//     message cap enforced), /comment/list/ (pagination, hidden and
//     deleted comments), /comment/reply/create/ and /video/list/
//     (Business API).
//
// Point the connector at it with api_base_url = <base>,
// business_api_base_url = <base>/open_api/v1.3 and auth_url =
// <base>/v2/auth/authorize/. Control endpoints under /_sandbox/tiktok/
// create accounts, customer DMs and comments, finish publications and
// inject failures; the webhook builders, Sign and Deliver make signed
// deliveries, and a webhook sink receives what TikTok would push on its
// own (message echoes, publication outcomes, removed authorizations).
//
// Ids are deterministic per Server; each Server is independent and safe
// for concurrent use, so parallel tests each run their own.
package sandbox
