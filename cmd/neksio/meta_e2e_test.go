package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

const (
	testPageID    = "1000000000001"
	testPageToken = "page-token"
	testIGID      = "1780000000000001"
	testIGToken   = "ig-token"
)

func (e *env) connectMeta(t testing.TB) (pageChannel, igChannel string) {
	t.Helper()
	e.Meta.AddPage(testPageID, "Acme Page", testPageToken)
	e.Meta.AddInstagramAccount(testIGID, "acme_shop", testIGToken)
	q := `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id platform } }`
	page := e.gql(t, q, map[string]any{"in": map[string]any{"connector": "meta", "externalId": testPageID, "name": "Acme Page",
		"platform": "facebook", "credentials": map[string]any{"accessToken": testPageToken}}})
	require.Equal(t, "facebook", dig(page, "connectChannel", "platform"))
	ig := e.gql(t, q, map[string]any{"in": map[string]any{"connector": "meta", "externalId": testIGID, "name": "Acme IG",
		"platform": "instagram", "credentials": map[string]any{"accessToken": testIGToken}}})
	require.Equal(t, "instagram", dig(ig, "connectChannel", "platform"))
	return dig(page, "connectChannel", "id").(string), dig(ig, "connectChannel", "id").(string)
}

// metaWebhook tells the emulator what the customer did, then delivers the
// signed webhook; it returns the status.
func (e *env) metaWebhook(t testing.TB, body []byte) int {
	t.Helper()
	e.Meta.Observe(body)
	code, _ := e.postWebhook(t, "/webhooks/meta", body, map[string]string{"X-Hub-Signature-256": metasandbox.Sign(testMetaSecret, body)})
	return code
}

type convSummary struct {
	ID, Kind, Platform, Thread string
	Texts                      []string
	Directions                 []string
}

func (e *env) conversationsByThread(t testing.TB) map[string]convSummary {
	t.Helper()
	data := e.gql(t, `{ conversations(first: 50) { edges { node { id kind threadID channel { platform }
		messages(first: 50) { edges { node { text direction } } } } } } }`, nil)
	out := map[string]convSummary{}
	for _, edge := range dig(data, "conversations", "edges").([]any) {
		n := dig(edge, "node")
		c := convSummary{ID: dig(n, "id").(string), Kind: dig(n, "kind").(string), Platform: dig(n, "channel", "platform").(string), Thread: dig(n, "threadID").(string)}
		for _, m := range dig(n, "messages", "edges").([]any) {
			c.Texts = append(c.Texts, dig(m, "node", "text").(string))
			c.Directions = append(c.Directions, dig(m, "node", "direction").(string))
		}
		out[c.Thread] = c
	}
	return out
}

func TestMetaThreads(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		e.connectMeta(t)

		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-1", "Messenger hello")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerEcho(testPageID, "psid-1", "echo from the page inbox")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c1", "user-7", "Ann", "Nice post!", "add")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageSelfComment(testPageID, testPageID+"_42", "Thanks all")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.InstagramDM(testIGID, "igsid-9", "IG DM hello")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.InstagramComment(testIGID, "media-5", "ig-c1", "igsid-3", "bob", "love it")))

		convs := e.conversationsByThread(t)
		require.Len(t, convs, 4)
		dm := convs["psid-1"]
		require.Equal(t, "DIRECT_MESSAGE", dm.Kind)
		require.Equal(t, "facebook", dm.Platform)
		require.ElementsMatch(t, []string{"Messenger hello", "echo from the page inbox"}, dm.Texts)
		require.ElementsMatch(t, []string{"INBOUND", "OUTBOUND"}, dm.Directions)
		post := convs[testPageID+"_42"]
		require.Equal(t, "COMMENT_THREAD", post.Kind)
		require.ElementsMatch(t, []string{"INBOUND", "OUTBOUND"}, post.Directions, "the page's own comment is outbound")
		require.Equal(t, "instagram", convs["igsid-9"].Platform)
		require.Equal(t, "DIRECT_MESSAGE", convs["igsid-9"].Kind)
		require.Equal(t, "COMMENT_THREAD", convs["media-5"].Kind)
		require.Equal(t, []string{"love it"}, convs["media-5"].Texts)
		// Echoes and the page's own comments never start the agent: one
		// ai.reply job per inbound message, none for the two outbound ones.
		require.Equal(t, 4, storetest.CountJobs(t, e.App.Store.DB, "ai.reply"))

		// Edits keep the history; removals keep the text and mark the time.
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c1", "user-7", "Ann", "Nice post!! (edited)", "edited")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c1", "user-7", "Ann", "", "remove")))
		data := e.gql(t, `{ messages(first: 10, where: {externalID: "42_c1"}) { edges { node { text editedAt deletedAt } } } }`, nil)
		node := dig(data, "messages", "edges", 0, "node")
		require.Equal(t, "Nice post!! (edited)", dig(node, "text"))
		require.NotNil(t, dig(node, "editedAt"))
		require.NotNil(t, dig(node, "deletedAt"))
		var prev string
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT metadata FROM messages WHERE external_id = '42_c1'`).Scan(&prev))
		var meta map[string]string
		require.NoError(t, json.Unmarshal([]byte(prev), &meta))
		require.Equal(t, "Nice post!", meta["previous_text_1"])
		require.Equal(t, "1", meta["edit_count"])
	})
}

func TestMetaReplies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		e.connectMeta(t)
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-1", "Do you ship to Lyon?")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c1", "user-7", "Ann", "Price?", "add")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.InstagramComment(testIGID, "media-5", "ig-c1", "igsid-3", "bob", "size?")))
		convs := e.conversationsByThread(t)
		reply := func(conv, text, mode string) gqlResponse {
			in := map[string]any{"conversationId": conv, "text": text}
			if mode != "" {
				in["mode"] = mode
			}
			return e.gqlAs(t, e.Key, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id } }`, map[string]any{"in": in})
		}
		require.Empty(t, reply(convs["psid-1"].ID, "Yes we do", "").Errors)
		require.Empty(t, reply(convs[testPageID+"_42"].ID, "It's 12 EUR", "PUBLIC").Errors)
		require.Empty(t, reply(convs[testPageID+"_42"].ID, "Sent you the details", "PRIVATE").Errors)
		require.Empty(t, reply(convs["media-5"].ID, "M and L", "").Errors)
		// mode is for comment threads only.
		require.Equal(t, "BAD_USER_INPUT", reply(convs["psid-1"].ID, "x", "PRIVATE").Code())

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.Meta.WaitSent(ctx, 4)
		require.NoError(t, err)
		kinds := map[string]metasandbox.Sent{}
		for _, s := range sent {
			kinds[s.Kind] = s
		}
		require.Equal(t, "psid-1", kinds["message"].RecipientID)
		// Inside the 24-hour window a person's reply is a plain response;
		// the HUMAN_AGENT tag is only for 24 hours to 7 days.
		require.Equal(t, "RESPONSE", kinds["message"].MessagingType)
		require.Equal(t, "42_c1", kinds["comment_reply"].RecipientID)
		require.Equal(t, "42_c1", kinds["private_reply"].RecipientID)
		require.Equal(t, "ig-c1", kinds["reply"].RecipientID)
		e.waitJobs(t)

		// A second private reply to the same comment is refused clearly.
		r := reply(convs[testPageID+"_42"].ID, "again", "PRIVATE")
		require.Empty(t, r.Errors)
		e.waitJobs(t)
		data := e.gql(t, `{ messages(first: 20, where: {deliveryStatus: FAILED}) { edges { node { text errorMessage } } } }`, nil)
		require.Equal(t, "again", dig(data, "messages", "edges", 0, "node", "text"))
		require.Contains(t, dig(data, "messages", "edges", 0, "node", "errorMessage"), "private reply was already sent")
		require.Len(t, e.Meta.SentMessages(), 4)
	})
}

// A Page with a vanity name answers /me with a username, as an Instagram
// account does; connected without a platform it is still Facebook, so its
// comment replies go to /comments (they went to Instagram's /replies).
func TestMetaPageWithUsername(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		e.Meta.AddPage(testPageID, "Acme Page", testPageToken)
		e.Meta.SetUsername(testPageID, "acmebikes")
		page := e.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id platform } }`,
			map[string]any{"in": map[string]any{"connector": "meta", "externalId": testPageID, "name": "Acme Page",
				"credentials": map[string]any{"accessToken": testPageToken}}})
		require.Equal(t, "facebook", dig(page, "connectChannel", "platform"))

		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c1", "user-7", "Ann", "Price?", "add")))
		conv := e.conversationsByThread(t)[testPageID+"_42"]
		r := e.gqlAs(t, e.Key, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"conversationId": conv.ID, "text": "It's 12 EUR"}})
		require.Empty(t, r.Errors)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.Meta.WaitSent(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, "comment_reply", sent[0].Kind)
		require.Equal(t, "42_c1", sent[0].RecipientID)
	})
}

// Disconnecting revokes the token at the platform, wipes it, keeps the
// history, and stops both ingestion and replies.
func TestDisconnectRevokes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		page, _ := e.connectMeta(t)
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-1", "before")))
		conv := e.conversationsByThread(t)["psid-1"].ID

		data := e.gql(t, `mutation($id: ID!) { disconnectChannel(id: $id) { status } }`, map[string]any{"id": page})
		require.Equal(t, "DISCONNECTED", dig(data, "disconnectChannel", "status"))
		var creds []byte
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT credentials FROM channels WHERE id = $1`, page).Scan(&creds))
		require.Empty(t, creds)
		var meta string
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT metadata FROM audit_logs WHERE action = 'channel.disconnect'`).Scan(&meta))
		require.Contains(t, meta, "revoked")
		// The platform no longer accepts the token.
		ctx := context.Background()
		conn, err := e.App.Connectors.Get("meta")
		require.NoError(t, err)
		_, err = conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: e.App.Channels.Apps("meta"), Credentials: sdk.Credentials{AccessToken: testPageToken}, AccountID: testPageID})
		require.Error(t, err)

		// History stays; new events are dropped; replies are refused.
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-1", "after")))
		require.Equal(t, []string{"before"}, e.conversationsByThread(t)["psid-1"].Texts)
		r := e.gqlAs(t, e.Key, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hi"}) { id } }`, map[string]any{"id": conv})
		require.Equal(t, "CONFLICT", r.Code())
	})
}
