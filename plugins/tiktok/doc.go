// Package tiktok is Neksio's connector for TikTok: direct messages and
// comments through the TikTok Business API (business-api.tiktok.com),
// video posting through the Content Posting API and accounts through Login
// Kit (open.tiktokapis.com).
//
// The connector is stateless: every call carries the app settings (client
// key and secret, API base URLs, whether the app passed TikTok's audit)
// and the channel's token. It never calls TikTok while parsing a webhook,
// so the host can commit events before answering.
//
// A channel's account id is the TikTok user's open_id, which is both the
// webhooks' user_openid and the Business API's business_id. DMs arrive by
// webhook; comments by Sync (TikTok pushes no comment text); posts are
// published by pulling the video from its URL and followed with
// PublishStatus or the post.publish.* webhooks.
//
// The sandbox subpackage emulates every endpoint used here, for tests and
// `neksio sandbox`. See docs/tiktok.md.
package tiktok
