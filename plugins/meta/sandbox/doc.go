// Package sandbox emulates the parts of Meta's Graph API the meta
// connector calls, for tests and `neksio sandbox`: the Send API with its
// 24-hour window and HUMAN_AGENT tag, private replies (once per comment,
// within 7 days), comment replies, Page posts and photos, Instagram media
// containers that progress IN_PROGRESS → FINISHED, media_publish with a
// daily cap, /me and token revocation; Facebook Login (a consent page, the
// token endpoint, long-lived user tokens, me/accounts with Page tokens and
// linked Instagram accounts), subscribed_apps, user profiles, post and
// media context, and attachment URLs that expire. It records everything
// sent, published and subscribed, injects failures, and builds signed
// inbound webhooks.
//
// Paths are accepted with or without a /vNN.N version prefix. Control
// endpoints under /_sandbox/ let a separate process (neksio simulate) tell
// a running emulator what a customer did.
package sandbox
