package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// Reply windows for people (WhatsApp's 24 hours and its templates,
// Meta's message tags), contact names and post context, against the
// emulators, which enforce the windows as the platforms do.

// backdate makes a conversation's customer messages, and so its reply
// window, ago old.
func (e *env) backdate(t testing.TB, convID string, ago time.Duration) {
	t.Helper()
	at := time.Now().Add(-ago)
	_, err := e.App.Store.DB.Exec(`UPDATE conversations SET last_inbound_at = $1 WHERE id = $2`, at, convID)
	require.NoError(t, err)
	_, err = e.App.Store.DB.Exec(`UPDATE messages SET sent_at = $1 WHERE conversation_id = $2 AND direction = 'INBOUND'`, at, convID)
	require.NoError(t, err)
}

// conversationOf is the ID of the conversation of thread (a wa_id, a PSID).
func (e *env) conversationOf(t testing.TB, thread string) string {
	t.Helper()
	data := e.gql(t, `query($w: ConversationWhereInput) { conversations(first: 1, where: $w) { edges { node { id } } } }`,
		map[string]any{"w": map[string]any{"threadID": thread}})
	id, _ := dig(data, "conversations", "edges", 0, "node", "id").(string)
	require.NotEmpty(t, id, "no conversation for %s", thread)
	return id
}

func (e *env) countOutbound(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM messages WHERE direction = 'OUTBOUND'`).Scan(&n))
	return n
}

const sendTemplateQ = `mutation($in: SendTemplateInput!) { sendTemplate(input: $in) { id type text deliveryStatus } }`

// Outside WhatsApp's 24 hours a person's free-form reply is refused before
// anything is stored, naming templates; an approved template goes, its
// parameters checked first; and the emulator refuses a free-form message
// outside the window as WhatsApp does.
func TestWhatsAppTemplatesOutsideWindow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withWhatsAppSandbox(wasandbox.WithWindowEnforced()))
		waba := wasandbox.DefaultWABAID
		e.WhatsApp.AddTemplate(waba, wasandbox.TemplateDef{Name: "order_update", Language: "en_US", Category: "UTILITY", Status: "APPROVED",
			Components: json.RawMessage(`[{"type":"HEADER","format":"TEXT","text":"Order"},{"type":"BODY","text":"Hi {{1}}, your order {{2}} is ready."}]`)})
		e.WhatsApp.AddTemplate(waba, wasandbox.TemplateDef{Name: "order_update", Language: "fr", Category: "UTILITY", Status: "APPROVED",
			Components: json.RawMessage(`[{"type":"BODY","text":"Bonjour {{1}}, votre commande {{2}} est prête."}]`)})
		e.WhatsApp.AddTemplate(waba, wasandbox.TemplateDef{Name: "promo", Language: "en_US", Category: "MARKETING", Status: "PENDING",
			Components: json.RawMessage(`[{"type":"BODY","text":"Sale!"}]`)})

		data := e.gql(t, `query($id: ID!) { whatsappTemplates(channelId: $id) { name language category status body parameters components } }`,
			map[string]any{"id": e.WAChannel})
		list := dig(data, "whatsappTemplates").([]any)
		require.Len(t, list, 2, "approved templates only")
		require.Equal(t, "order_update", dig(list[0], "name"))
		require.Equal(t, "Hi {{1}}, your order {{2}} is ready.", dig(list[0], "body"))
		require.EqualValues(t, 2, dig(list[0], "parameters"))
		require.Equal(t, "HEADER", dig(list[0], "components", 0, "type"))

		// The customer wrote 25 hours ago (the emulator never saw them
		// since: its window is closed too).
		body := wasandbox.TextMessage(testWAPhoneID, "16505550001", "Ann", "Is my order ready?")
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, body))
		conv := e.conversationOf(t, "16505550001")
		e.backdate(t, conv, 25*time.Hour)

		r := e.gqlAs(t, e.Key, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Yes!"}) { id } }`, map[string]any{"id": conv})
		require.Equal(t, "WINDOW_CLOSED", r.Code())
		require.Contains(t, r.Errors[0].Message, "24-hour reply window is closed")
		require.Contains(t, r.Errors[0].Message, "template")
		require.Zero(t, e.countOutbound(t), "nothing stored")

		tmpl := func(name, lang string, params ...string) gqlResponse {
			return e.gqlAs(t, e.Key, sendTemplateQ, map[string]any{"in": map[string]any{"conversationId": conv, "name": name,
				"language": lang, "parameters": params}})
		}
		r = tmpl("no_such", "en_US")
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, `no approved template "no_such"`)
		r = tmpl("order_update", "de", "Ann", "#42")
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "exists in en_US, fr")
		r = tmpl("promo", "en_US")
		require.Equal(t, "BAD_USER_INPUT", r.Code(), "not approved")
		r = tmpl("order_update", "en_US", "Ann")
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "takes 2 body parameters, 1 were given")
		r = tmpl("order_update", "en_US", "Ann", "#42\nline")
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Zero(t, e.countOutbound(t), "nothing stored")
		require.Empty(t, e.WhatsApp.Sent(), "nothing sent")

		r = tmpl("order_update", "en_US", "Ann", "#42")
		require.Empty(t, r.Errors, "%+v", r.Errors)
		require.Equal(t, "template", dig(r.Data, "sendTemplate", "type"))
		require.Equal(t, "Hi Ann, your order #42 is ready.", dig(r.Data, "sendTemplate", "text"))
		e.waitJobs(t)
		sent := e.WhatsApp.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "order_update", sent[0].Template.Name)
		require.Equal(t, "en_US", sent[0].Template.Language)
		require.JSONEq(t, `[{"type":"body","parameters":[{"type":"text","text":"Ann"},{"type":"text","text":"#42"}]}]`, string(sent[0].Template.Components))
		data = e.gql(t, `query($id: ID!) { node(id: $id) { ... on Message { deliveryStatus } } }`, map[string]any{"id": dig(r.Data, "sendTemplate", "id")})
		require.Equal(t, "SENT", dig(data, "node", "deliveryStatus"))

		// A template is not for other channels.
		page, _ := e.connectMeta(t)
		r = e.gqlAs(t, e.Key, `query($id: ID!) { whatsappTemplates(channelId: $id) { name } }`, map[string]any{"id": page})
		require.Equal(t, "BAD_USER_INPUT", r.Code())

		// The emulator keeps the window like WhatsApp: a free-form message
		// the host lets through (the conversation looks recent to it) is
		// refused there, and the reply fails with the reason.
		e.backdate(t, conv, time.Hour)
		r = e.gqlAs(t, e.Key, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "free form"}) { id } }`, map[string]any{"id": conv})
		require.Empty(t, r.Errors)
		e.waitJobs(t)
		data = e.gql(t, `{ messages(first: 5, where: {deliveryStatus: FAILED}) { edges { node { text errorCode } } } }`, nil)
		require.Equal(t, "free form", dig(data, "messages", "edges", 0, "node", "text"))
		require.Equal(t, "window_closed:131047", dig(data, "messages", "edges", 0, "node", "errorCode"))
	})
}

// Meta's tags by the age of the customer's last message: inside 24 hours
// a person's reply is a plain RESPONSE; from 24 hours to 7 days it goes
// with the HUMAN_AGENT tag when the app holds that permission
// (NEKSIO_META_HUMAN_AGENT_TAG=true) and is refused with WINDOW_CLOSED
// when it does not; after 7 days it is refused either way.
func TestMetaTagsByAge(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		for _, tag := range []bool{true, false} {
			var opts []envOption
			if tag {
				opts = append(opts, withEnviron("NEKSIO_META_HUMAN_AGENT_TAG=true"))
			}
			e := newEnv(t, d, append(opts, withoutWhatsAppChannel())...)
			e.connectMeta(t)
			now := time.Now()
			for psid, ago := range map[string]time.Duration{"fresh": time.Hour, "two-days": 48 * time.Hour, "old": 8 * 24 * time.Hour} {
				// The platform knows when the customer wrote.
				e.Meta.Seen(testPageID, psid, now.Add(-ago))
				body := metasandbox.MessengerText(testPageID, psid, "hello")
				code, _ := e.postWebhook(t, "/webhooks/meta", body, map[string]string{"X-Hub-Signature-256": metasandbox.Sign(testMetaSecret, body)})
				require.Equal(t, http.StatusOK, code)
				e.backdate(t, e.conversationOf(t, psid), ago)
			}
			reply := func(psid string) gqlResponse {
				return e.gqlAs(t, e.Key, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "We're on it"}) { id } }`,
					map[string]any{"id": e.conversationOf(t, psid)})
			}
			require.Empty(t, reply("fresh").Errors)
			r := reply("two-days")
			if tag {
				require.Empty(t, r.Errors, "%+v", r.Errors)
			} else {
				require.Equal(t, "WINDOW_CLOSED", r.Code())
				require.Contains(t, r.Errors[0].Message, "NEKSIO_META_HUMAN_AGENT_TAG=true")
			}
			r = reply("old")
			require.Equal(t, "WINDOW_CLOSED", r.Code())
			e.waitJobs(t)
			sent := map[string]metasandbox.Sent{}
			for _, s := range e.Meta.SentMessages() {
				sent[s.RecipientID] = s
			}
			require.Equal(t, "RESPONSE", sent["fresh"].MessagingType)
			require.Empty(t, sent["fresh"].Tag)
			if tag {
				require.Equal(t, "MESSAGE_TAG", sent["two-days"].MessagingType)
				require.Equal(t, "HUMAN_AGENT", sent["two-days"].Tag)
				require.Len(t, sent, 2)
			} else {
				require.Len(t, sent, 1)
			}
			data := e.gql(t, `{ messages(first: 10, where: {direction: OUTBOUND}) { edges { node { deliveryStatus } } } }`, nil)
			for _, m := range dig(data, "messages", "edges").([]any) {
				require.Equal(t, "SENT", dig(m, "node", "deliveryStatus"))
			}
		}
	})
}

// Messenger and Instagram DMs carry no names: the contact's profile is
// read through the connector by a job, once, and again only after a week.
// A comment thread gets its post's text, permalink and picture.
func TestMetaContactNamesAndPostContext(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		e.connectMeta(t)
		e.Meta.AddProfile("psid-7", metasandbox.Profile{FirstName: "Ann", LastName: "Lee", ProfilePic: "https://cdn.example.com/ann.jpg"})
		e.Meta.AddProfile("igsid-7", metasandbox.Profile{Instagram: true, Name: "Bo Chen", Username: "bochen"})
		e.Meta.AddPost(testPageID+"_42", metasandbox.Post{Message: "Our new mugs are in!", PermalinkURL: "https://facebook.com/acme/posts/42",
			FullPicture: "https://cdn.example.com/mugs.jpg"})

		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-7", "hi")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.InstagramDM(testIGID, "igsid-7", "hello")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c1", "user-9", "Cy", "Price?", "add")))
		e.waitJobs(t)
		contact := func(thread string) map[string]any {
			data := e.gql(t, `query($w: ConversationWhereInput) { conversations(first: 1, where: $w) { edges { node {
				subject url thumbnailURL contact { name username avatarURL } } } } }`, map[string]any{"w": map[string]any{"threadID": thread}})
			return dig(data, "conversations", "edges", 0, "node").(map[string]any)
		}
		require.Equal(t, "Ann Lee", dig(contact("psid-7"), "contact", "name"))
		require.Equal(t, "https://cdn.example.com/ann.jpg", dig(contact("psid-7"), "contact", "avatarURL"))
		require.Equal(t, "Bo Chen", dig(contact("igsid-7"), "contact", "name"))
		require.Equal(t, "bochen", dig(contact("igsid-7"), "contact", "username"))
		post := contact(testPageID + "_42")
		require.Equal(t, "Our new mugs are in!", post["subject"])
		require.Equal(t, "https://facebook.com/acme/posts/42", post["url"])
		require.Equal(t, "https://cdn.example.com/mugs.jpg", post["thumbnailURL"])
		require.Equal(t, 2, storetest.CountJobs(t, e.App.Store.DB, "contact.lookup"))
		require.Equal(t, 1, storetest.CountJobs(t, e.App.Store.DB, "conversation.lookup"))

		// Cached: more messages read nothing again.
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-7", "again")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_42", "42_c2", "user-9", "Cy", "Hello?", "add")))
		e.waitJobs(t)
		require.Equal(t, 2, storetest.CountJobs(t, e.App.Store.DB, "contact.lookup"))
		require.Equal(t, 1, storetest.CountJobs(t, e.App.Store.DB, "conversation.lookup"))
		// A week later the profile is read again, and follows a new name.
		_, err := e.App.Store.DB.Exec(`UPDATE contacts SET profile_fetched_at = $1 WHERE external_id = 'psid-7'`, time.Now().Add(-8*24*time.Hour))
		require.NoError(t, err)
		e.Meta.AddProfile("psid-7", metasandbox.Profile{FirstName: "Ann", LastName: "Lee-Park"})
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-7", "new name")))
		e.waitJobs(t)
		require.Equal(t, 3, storetest.CountJobs(t, e.App.Store.DB, "contact.lookup"))
		require.Equal(t, "Ann Lee-Park", dig(contact("psid-7"), "contact", "name"))

		// A person Meta will not describe: recorded as read, no retry storm,
		// the conversation works without a name.
		e.Meta.FailNext(1, http.StatusBadRequest, 100, 33, "Unsupported get request")
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-8", "hi")))
		e.waitJobs(t)
		var fetched *time.Time
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT profile_fetched_at FROM contacts WHERE external_id = 'psid-8'`).Scan(&fetched))
		require.NotNil(t, fetched)
		require.Equal(t, 4, storetest.CountJobs(t, e.App.Store.DB, "contact.lookup"))
	})
}
