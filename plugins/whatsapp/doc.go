// Package whatsapp is the Neksio connector for the WhatsApp Business Cloud
// API.
//
// A channel is one business phone number, named by its phone_number_id; its
// credential is a system-user access token with whatsapp_business_messaging.
// The app secret verifies webhook signatures and the verify token answers the
// subscription handshake; both arrive with every call (sdk.App), because a
// connector keeps no state.
//
// HandleWebhook turns a delivery into sdk events: one message event per
// inbound message of any type (unknown types are kept, never dropped), one
// status event per delivery status, and account events for webhook-level
// errors and for fields other than messages. Send posts text, template and
// media messages to /{phone_number_id}/messages and classifies Graph errors
// so the host knows whether to retry, fall back to a template or reconnect.
//
// The emulator in package sandbox serves the same endpoints on 127.0.0.1
// and builds signed inbound webhooks for tests and `neksio simulate`.
package whatsapp
