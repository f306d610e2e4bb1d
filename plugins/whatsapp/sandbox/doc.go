// Package sandbox emulates the WhatsApp Business Cloud API endpoints the
// whatsapp connector calls, for tests and `neksio sandbox`.
//
// Server answers POST /{phone_number_id}/messages and GET /{phone_number_id}
// (with or without a /vNN.0 prefix) in the documented request and response
// shapes: it checks the bearer token against the numbers registered with
// AddNumber, validates messages the way the platform does, records every
// accepted send, and fails on demand (FailNext, CloseWindow) so every error
// class can be exercised without the platform. It also serves media (GET
// /{media-id}, token-checked download URLs that expire, uploads to POST
// /{phone_number_id}/media), a WABA's templates (GET
// /{waba_id}/message_templates, with 132001 and 132000 on sends),
// debug_token, and the 24-hour window from the customers it was told
// about (Seen, Observe, /_sandbox/ control endpoints).
//
// The builders (TextMessage, Inbound, StatusUpdate, FailedStatus, Sign,
// NewWebhookRequest) produce signed inbound webhook deliveries, for tests
// and `neksio simulate whatsapp`.
package sandbox
