package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const conversationsQuery = `{ conversations(first: 10) { totalCount edges { node {
	id kind status threadID handoffReason contact { name externalID }
	messages(first: 20) { totalCount edges { node { id text direction authorKind deliveryStatus externalID errorCode } } }
} } } }`

func countRows(t *testing.T, e *env, table string) int {
	t.Helper()
	var n int
	require.NoError(t, e.App.Store.DB.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
	return n
}

func TestWhatsAppIngestion(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)

		// The subscription handshake.
		resp, err := http.Get(e.URL + "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + testWAVerifyToken)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		resp, err = http.Get(e.URL + "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong")
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp.Body.Close()

		body := e.whatsappText(t, "16505551234", "Does it come in another color?")
		data := e.gql(t, conversationsQuery, nil)
		require.EqualValues(t, 1, dig(data, "conversations", "totalCount"))
		conv := dig(data, "conversations", "edges", 0, "node")
		require.Equal(t, "DIRECT_MESSAGE", dig(conv, "kind"))
		require.Equal(t, "OPEN", dig(conv, "status"))
		require.Equal(t, "Customer 16505551234", dig(conv, "contact", "name"))
		require.Equal(t, "Does it come in another color?", dig(conv, "messages", "edges", 0, "node", "text"))
		require.Equal(t, "INBOUND", dig(conv, "messages", "edges", 0, "node", "direction"))

		// A repeated delivery is a no-op, in the database.
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, body))
		require.Equal(t, 1, countRows(t, e, "messages"))

		before := countRows(t, e, "messages")
		other := wasandbox.TextMessage(testWAPhoneID, "16505550000", "X", "hello")
		// Bad or missing signature: 401, nothing stored.
		code, _ := e.postWebhook(t, "/webhooks/whatsapp", other, map[string]string{"X-Hub-Signature-256": wasandbox.Sign("wrong", other)})
		require.Equal(t, http.StatusUnauthorized, code)
		code, _ = e.postWebhook(t, "/webhooks/whatsapp", other, nil)
		require.Equal(t, http.StatusUnauthorized, code)
		// Malformed JSON, correctly signed: 400.
		bad := []byte(`{"object":"whatsapp_business_account","entry":[`)
		require.Equal(t, http.StatusBadRequest, e.whatsappWebhook(t, bad))
		// Over the limit: 413.
		huge := bytes.Repeat([]byte("a"), 1<<20+1)
		code, _ = e.postWebhook(t, "/webhooks/whatsapp", huge, map[string]string{"X-Hub-Signature-256": wasandbox.Sign(testWAAppSecret, huge)})
		require.Equal(t, http.StatusRequestEntityTooLarge, code)
		// An account no channel owns: 200, dropped.
		stranger := wasandbox.TextMessage("999999", "16505550000", "X", "hello")
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, stranger))
		// Unknown connector.
		code, _ = e.postWebhook(t, "/webhooks/nope", other, nil)
		require.Equal(t, http.StatusNotFound, code)
		require.Equal(t, before, countRows(t, e, "messages"))
	})
}

func TestWhatsAppReplyDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		e.whatsappText(t, "16505551234", "Hi, are you open on Sunday?")
		convID := dig(e.gql(t, conversationsQuery, nil), "conversations", "edges", 0, "node", "id").(string)

		data := e.gql(t, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id deliveryStatus direction authorKind } }`,
			map[string]any{"in": map[string]any{"conversationId": convID, "text": "Yes, 9 to 5."}})
		require.Equal(t, "PENDING", dig(data, "sendReply", "deliveryStatus"))
		msgID := dig(data, "sendReply", "id").(string)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.WhatsApp.WaitSent(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, "16505551234", sent[0].To)
		require.Equal(t, "Yes, 9 to 5.", sent[0].Text)
		e.waitJobs(t)

		msg := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Message { deliveryStatus externalID } } }`, map[string]any{"id": msgID})
		require.Equal(t, "SENT", dig(msg, "node", "deliveryStatus"))
		require.Equal(t, sent[0].ID, dig(msg, "node", "externalID"))

		// Statuses move forward only: read, then a late delivered.
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, wasandbox.StatusUpdate(testWAPhoneID, sent[0].ID, "16505551234", "read")))
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, wasandbox.StatusUpdate(testWAPhoneID, sent[0].ID, "16505551234", "delivered")))
		msg = e.gql(t, `query($id: ID!) { node(id: $id) { ... on Message { deliveryStatus } } }`, map[string]any{"id": msgID})
		require.Equal(t, "READ", dig(msg, "node", "deliveryStatus"))
	})
}

func TestWhatsAppDeliveryFailures(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		e.whatsappText(t, "16505551234", "hello?")
		convID := dig(e.gql(t, conversationsQuery, nil), "conversations", "edges", 0, "node", "id").(string)
		send := func(text string) string {
			data := e.gql(t, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"conversationId": convID, "text": text}})
			return dig(data, "sendReply", "id").(string)
		}
		status := func(id string) map[string]any {
			data := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Message { deliveryStatus errorCode errorMessage } } }`, map[string]any{"id": id})
			return dig(data, "node").(map[string]any)
		}

		// A rate limit is retried, then the message goes out.
		e.WhatsApp.FailNext(1, http.StatusBadRequest, 130429, "Rate limit hit")
		id := send("first")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := e.WhatsApp.WaitSent(ctx, 1)
		require.NoError(t, err)
		e.waitJobs(t)
		require.Equal(t, "SENT", status(id)["deliveryStatus"])

		// The 24-hour window closed: failed with the reason, handed to a human.
		e.WhatsApp.CloseWindow("16505551234")
		id = send("second")
		e.waitJobs(t)
		require.Eventually(t, func() bool { return status(id)["deliveryStatus"] == "FAILED" }, 30*time.Second, 50*time.Millisecond)
		require.Contains(t, status(id)["errorCode"], "window_closed")
		conv := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Conversation { status handoffReason } } }`, map[string]any{"id": convID})
		require.Contains(t, dig(conv, "node", "handoffReason"), "window")
		require.Len(t, e.WhatsApp.Sent(), 1)

		// A person gives the conversation back to the agent.
		conv = e.gql(t, `mutation($id: ID!) { updateConversation(id: $id, input: {clearHandoff: true}) { handoffReason handedOffAt } }`, map[string]any{"id": convID})
		require.Empty(t, dig(conv, "updateConversation", "handoffReason"))
		require.Nil(t, dig(conv, "updateConversation", "handedOffAt"))
	})
}

func TestConnectChannelValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	connect := func(in map[string]any) gqlResponse {
		return e.gqlAs(t, e.Key, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`, map[string]any{"in": in})
	}
	r := connect(map[string]any{"connector": "whatsapp", "externalId": testWAPhoneID, "name": "x", "credentials": map[string]any{"accessToken": "wrong"}})
	require.Equal(t, "BAD_USER_INPUT", r.Code(), "%+v", r.Errors)
	r = connect(map[string]any{"connector": "nope", "externalId": "1", "name": "x", "credentials": map[string]any{"accessToken": "t"}})
	require.Equal(t, "BAD_USER_INPUT", r.Code())
	r = connect(map[string]any{"connector": "whatsapp", "externalId": testWAPhoneID, "name": "x", "credentials": map[string]any{}})
	require.Equal(t, "BAD_USER_INPUT", r.Code())
	require.Equal(t, 0, countRows(t, e, "channels"))

	r = connect(map[string]any{"connector": "whatsapp", "externalId": testWAPhoneID, "name": "ok", "credentials": map[string]any{"accessToken": testWAToken}})
	require.Empty(t, r.Errors)
	// The token is stored sealed, never in the clear.
	var creds []byte
	require.NoError(t, e.App.Store.DB.QueryRow("SELECT credentials FROM channels").Scan(&creds))
	require.NotContains(t, string(creds), testWAToken)
	raw, _ := json.Marshal(e.gql(t, `{ channels(first: 5) { edges { node { id name status aiMode connector platform externalID } } } }`, nil))
	require.NotContains(t, string(raw), testWAToken)
	require.Contains(t, string(raw), `"aiMode":"DRAFT"`)

	// Another workspace cannot take the same number.
	_, key2 := e.newWorkspace(t, "Other")
	r = e.gqlAs(t, key2, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"connector": "whatsapp", "externalId": testWAPhoneID, "name": "steal", "credentials": map[string]any{"accessToken": testWAToken}}})
	require.Equal(t, "CONFLICT", r.Code())
}
