package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const agentKB = `# Acme Coffee

## Delivery
We deliver within 5 miles for a fee of £3.50. Orders over £25 are delivered free.

## Opening hours
The Riverside café is open Tuesday to Friday from 8am to 4pm.
`

const agentRunsQuery = `query($id: ID!) { node(id: $id) { ... on Message {
	agentRun { decision reason answer confidence model latencyMs citations { documentId chunkId title snippet }
		reply { id text deliveryStatus authorKind } }
} } }`

// upload posts a GraphQL multipart request (the spec curl users follow).
func (e *env) upload(t testing.TB, key, query string, vars map[string]any, filename string, content []byte) gqlResponse {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, w.WriteField("operations", string(ops)))
	require.NoError(t, w.WriteField("map", `{"0": ["variables.in.file"]}`))
	fw, err := w.CreateFormFile("0", filename)
	require.NoError(t, err)
	_, _ = fw.Write(content)
	require.NoError(t, w.Close())
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	out.Status = resp.StatusCode
	return out
}

// inboundMessage returns the latest inbound message of the customer's conversation.
func (e *env) inboundMessage(t testing.TB, from string) map[string]any {
	t.Helper()
	data := e.gql(t, `query($w: ConversationWhereInput) { conversations(first: 1, where: $w) { edges { node {
		id handoffReason sentimentLabel
		messages(first: 10, where: {direction: INBOUND}) { edges { node { id text sentimentLabel } } } } } } }`,
		map[string]any{"w": map[string]any{"hasContactWith": []map[string]any{{"externalID": from}}}})
	conv := dig(data, "conversations", "edges", 0, "node")
	require.NotNil(t, conv, "no conversation with %s", from)
	msg := dig(conv, "messages", "edges", 0, "node").(map[string]any)
	msg["conversation"] = conv
	return msg
}

func (e *env) agentRun(t testing.TB, messageID string) map[string]any {
	t.Helper()
	run, _ := dig(e.gql(t, agentRunsQuery, map[string]any{"id": messageID}), "node", "agentRun").(map[string]any)
	require.NotNil(t, run, "no agent run for %s", messageID)
	return run
}

func TestAgentEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		// Knowledge: one document added as text, one uploaded as a file.
		add := e.gql(t, `mutation($in: AddKnowledgeDocumentInput!) { addKnowledgeDocument(input: $in) { id status version } }`,
			map[string]any{"in": map[string]any{"title": "Acme Coffee", "content": agentKB, "format": "MARKDOWN"}})
		docID := dig(add, "addKnowledgeDocument", "id").(string)
		require.Equal(t, "PENDING", dig(add, "addKnowledgeDocument", "status"))
		up := e.upload(t, e.Key, `mutation($in: UploadKnowledgeDocumentInput!) { uploadKnowledgeDocument(input: $in) { id title format } }`,
			map[string]any{"in": map[string]any{"file": nil}}, "loyalty.html",
			[]byte(`<html><body><h1>Loyalty card</h1><p>Every tenth hot drink is free with the Acme loyalty card.</p></body></html>`))
		require.Empty(t, up.Errors)
		require.Equal(t, "loyalty", dig(up.Data, "uploadKnowledgeDocument", "title"))
		require.Equal(t, "HTML", dig(up.Data, "uploadKnowledgeDocument", "format"))
		e.waitJobs(t)
		docs := e.gql(t, `{ knowledgeDocuments(first: 10, where: {status: INDEXED}) { totalCount edges { node { id status chunkCount error } } } }`, nil)
		require.EqualValues(t, 2, dig(docs, "knowledgeDocuments", "totalCount"))
		require.Greater(t, dig(docs, "knowledgeDocuments", "edges", 0, "node", "chunkCount").(float64), 0.0)

		ask := e.gql(t, `{ askKnowledgeBase(question: "how much is delivery?") { answer confidence refused unsupported model citations { documentId chunkId title snippet } } }`, nil)
		require.Contains(t, dig(ask, "askKnowledgeBase", "answer"), "£3.50")
		require.Equal(t, docID, dig(ask, "askKnowledgeBase", "citations", 0, "documentId"))
		require.Equal(t, false, dig(ask, "askKnowledgeBase", "refused"))
		require.Equal(t, []any{}, dig(ask, "askKnowledgeBase", "unsupported"))
		near := e.gql(t, `{ askKnowledgeBase(question: "how much is delivery to the Moon?") { answer unsupported } }`, nil)
		require.Equal(t, []any{"moon"}, dig(near, "askKnowledgeBase", "unsupported"), "the delivery sentence does not cover the Moon")

		// AUTO: the answer reaches the customer, with its run stored.
		e.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { aiMode } }`, map[string]any{"id": e.WAChannel})
		e.whatsappText(t, "16505550001", "hi, how much is delivery?")
		sent, err := e.WhatsApp.WaitSent(ctx, 1)
		require.NoError(t, err)
		require.Contains(t, sent[0].Text, "£3.50")
		require.Equal(t, "16505550001", sent[0].WaID)
		e.waitJobs(t)
		msg := e.inboundMessage(t, "16505550001")
		run := e.agentRun(t, msg["id"].(string))
		require.Equal(t, "SENT", run["decision"])
		require.NotEmpty(t, run["citations"])
		require.Equal(t, docID, dig(run, "citations", 0, "documentId"))
		require.Equal(t, "AI", dig(run, "reply", "authorKind"))
		require.Contains(t, []any{"SENT", "DELIVERED", "READ"}, dig(run, "reply", "deliveryStatus"))
		require.NotEmpty(t, msg["sentimentLabel"], "sentiment is stored on the message")

		// Outside the knowledge base, and a request for a person: handed off, nothing sent.
		for from, text := range map[string]string{
			"16505550002": "do you sell gift vouchers for weddings?",
			"16505550003": "I want to talk to a person",
		} {
			e.whatsappText(t, from, text)
		}
		e.waitJobs(t)
		// A question about a photo: the agent reads text only.
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, wasandbox.Inbound{PhoneNumberID: testWAPhoneID, From: "16505550005",
			Name: "Customer", Type: "image", Text: "is delivery free with this?"}.Body()))
		e.waitJobs(t)
		for _, from := range []string{"16505550002", "16505550003", "16505550005"} {
			msg := e.inboundMessage(t, from)
			run := e.agentRun(t, msg["id"].(string))
			require.Equal(t, "HANDED_OFF", run["decision"], from)
			require.Nil(t, run["reply"])
			require.NotEmpty(t, dig(msg, "conversation", "handoffReason"))
		}
		require.Contains(t, e.agentRun(t, e.inboundMessage(t, "16505550005")["id"].(string))["reason"], "a photo")
		require.Len(t, e.WhatsApp.Sent(), 1, "handoffs send nothing")

		// DRAFT: the answer waits; approveDraft sends it.
		e.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: DRAFT}) { aiMode } }`, map[string]any{"id": e.WAChannel})
		e.whatsappText(t, "16505550004", "when is the Riverside café open?")
		e.waitJobs(t)
		require.Len(t, e.WhatsApp.Sent(), 1, "a draft is not sent")
		msg = e.inboundMessage(t, "16505550004")
		run = e.agentRun(t, msg["id"].(string))
		require.Equal(t, "DRAFTED", run["decision"])
		require.Equal(t, "DRAFT", dig(run, "reply", "deliveryStatus"))
		draftID := dig(run, "reply", "id").(string)
		require.Contains(t, dig(run, "reply", "text"), "8am")
		drafts := e.gql(t, `{ messages(first: 5, where: {deliveryStatus: DRAFT}) { totalCount } }`, nil)
		require.EqualValues(t, 1, dig(drafts, "messages", "totalCount"))

		ok := e.gql(t, `mutation($id: ID!) { approveDraft(id: $id) { id deliveryStatus } }`, map[string]any{"id": draftID})
		require.Equal(t, "PENDING", dig(ok, "approveDraft", "deliveryStatus"))
		sent, err = e.WhatsApp.WaitSent(ctx, 2)
		require.NoError(t, err)
		require.Contains(t, sent[1].Text, "8am")
		require.Equal(t, "16505550004", sent[1].WaID)
		again := e.gqlAs(t, e.Key, `mutation($id: ID!) { approveDraft(id: $id) { id } }`, map[string]any{"id": draftID})
		require.Equal(t, "CONFLICT", again.Code())

		// Settings, sentiment filter and runs are visible.
		set := e.gql(t, `mutation { updateAgentSettings(input: {confidenceThreshold: 0.5, handoffKeywords: ["manager"], timezone: "Europe/London",
			businessHours: [{day: "MONDAY", start: "09:00", end: "17:00"}], tone: "friendly", signature: "— Acme"}) {
			confidenceThreshold handoffKeywords timezone businessHours { day start end } signature } }`, nil)
		require.Equal(t, 0.5, dig(set, "updateAgentSettings", "confidenceThreshold"))
		require.Equal(t, "MONDAY", dig(set, "updateAgentSettings", "businessHours", 0, "day"))
		runs := e.gql(t, `{ agentRuns(first: 10, where: {decision: HANDED_OFF}) { totalCount } }`, nil)
		require.EqualValues(t, 3, dig(runs, "agentRuns", "totalCount"))
		neutral := e.gql(t, `{ conversations(first: 10, where: {sentimentLabelNotNil: true}) { totalCount } }`, nil)
		require.EqualValues(t, 5, dig(neutral, "conversations", "totalCount"))
	})
}

// TestAgentGraphQLValidation checks bad input and other workspaces' IDs.
func TestAgentGraphQLValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	addDoc := `mutation($in: AddKnowledgeDocumentInput!) { addKnowledgeDocument(input: $in) { id } }`
	for _, c := range []struct {
		in   map[string]any
		code string
	}{
		{map[string]any{"title": "", "content": "x"}, "BAD_USER_INPUT"},
		{map[string]any{"title": "t", "content": "   "}, "BAD_USER_INPUT"},
		{map[string]any{"title": "t", "content": "x", "format": "PDF"}, "GRAPHQL_VALIDATION_FAILED"},
	} {
		r := e.gqlAs(t, e.Key, addDoc, map[string]any{"in": c.in})
		require.NotEmpty(t, r.Errors, "%v", c.in)
		if c.code == "BAD_USER_INPUT" {
			require.Equal(t, c.code, r.Code(), "%v", c.in)
		}
	}
	big := e.upload(t, e.Key, `mutation($in: UploadKnowledgeDocumentInput!) { uploadKnowledgeDocument(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"file": nil}}, "big.txt", []byte(strings.Repeat("a", 5<<20+10)))
	require.Equal(t, "BAD_USER_INPUT", big.Code())
	pdf := e.upload(t, e.Key, `mutation($in: UploadKnowledgeDocumentInput!) { uploadKnowledgeDocument(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"file": nil}}, "menu.pdf", []byte("%PDF-1.7"))
	require.Equal(t, "BAD_USER_INPUT", pdf.Code())
	r := e.gqlAs(t, e.Key, `{ askKnowledgeBase(question: " ") { answer } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", r.Code())
	r = e.gqlAs(t, e.Key, `mutation { updateAgentSettings(input: {confidenceThreshold: 2}) { id } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", r.Code())

	// Another workspace's document and drafts are NOT_FOUND.
	doc := e.gql(t, addDoc, map[string]any{"in": map[string]any{"title": "Secret", "content": "Saffron butter."}})
	id := dig(doc, "addKnowledgeDocument", "id").(string)
	_, otherKey := e.newWorkspace(t, "Other")
	for _, q := range []string{
		`mutation($id: ID!) { updateKnowledgeDocument(id: $id, input: {title: "x"}) { id } }`,
		`mutation($id: ID!) { deleteKnowledgeDocument(id: $id) { deletedId } }`,
		`mutation($id: ID!) { approveDraft(id: $id) { id } }`,
		`mutation($id: ID!) { discardDraft(id: $id) { id } }`,
	} {
		r := e.gqlAs(t, otherKey, q, map[string]any{"id": id})
		require.Equal(t, "NOT_FOUND", r.Code(), q)
	}
	list := e.gqlAs(t, otherKey, `{ knowledgeDocuments(first: 5) { totalCount } }`, nil)
	require.EqualValues(t, 0, dig(list.Data, "knowledgeDocuments", "totalCount"))
	r = e.gqlAs(t, e.Key, `mutation($id: ID!) { deleteKnowledgeDocument(id: $id) { deletedId } }`, map[string]any{"id": id})
	require.Empty(t, r.Errors)
}

// TestAgentCommentThreads: on a Page post in AUTO mode, one commenter asking
// for a person does not silence the agent for the next one; the agent's
// answer replies to the comment that asked; sendReply can name the comment
// it answers; and the handoff message is not posted under comments.
func TestAgentCommentThreads(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		pageCh, _ := e.connectMeta(t)
		e.gql(t, `mutation($in: AddKnowledgeDocumentInput!) { addKnowledgeDocument(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"title": "Acme Coffee", "content": agentKB, "format": "MARKDOWN"}})
		e.gql(t, `mutation { updateAgentSettings(input: {handoffMessage: "A person from our team will answer you here."}) { handoffMessage } }`, nil)
		e.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { aiMode } }`, map[string]any{"id": pageCh})
		e.waitJobs(t)

		post := testPageID + "_7"
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, post, "7_ann", "user-ann", "Ann", "I want to talk to a person", "add")))
		e.waitJobs(t)
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, post, "7_bob", "user-bob", "Bob", "how much is delivery?", "add")))
		e.waitJobs(t)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.Meta.WaitSent(ctx, 1)
		require.NoError(t, err)
		require.Len(t, sent, 1, "Ann gets no canned reply under the post")
		require.Equal(t, "comment_reply", sent[0].Kind)
		require.Equal(t, "7_bob", sent[0].RecipientID)
		require.Contains(t, sent[0].Text, "£3.50")

		conv := e.conversationsByThread(t)[post]
		msgs := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Conversation { handoffReason
			messages(first: 10, where: {direction: INBOUND}) { edges { node { id externalID handoffReason agentRun { decision } } } } } } }`,
			map[string]any{"id": conv.ID})
		require.Contains(t, dig(msgs, "node", "handoffReason"), "asked for a human")
		byComment := map[string]map[string]any{}
		for _, edge := range dig(msgs, "node", "messages", "edges").([]any) {
			n := dig(edge, "node").(map[string]any)
			byComment[n["externalID"].(string)] = n
		}
		require.Equal(t, "HANDED_OFF", dig(byComment["7_ann"], "agentRun", "decision"))
		require.Contains(t, byComment["7_ann"]["handoffReason"], "asked for a human")
		require.Equal(t, "SENT", dig(byComment["7_bob"], "agentRun", "decision"))
		require.Equal(t, "", byComment["7_bob"]["handoffReason"])

		// A person answers Ann by name, though Bob's comment is newer.
		reply := `mutation($in: SendReplyInput!) { sendReply(input: $in) { id } }`
		r := e.gqlAs(t, e.Key, reply, map[string]any{"in": map[string]any{"conversationId": conv.ID, "text": "Hi Ann, calling you now",
			"inReplyToId": byComment["7_ann"]["id"]}})
		require.Empty(t, r.Errors)
		sent, err = e.Meta.WaitSent(ctx, 2)
		require.NoError(t, err)
		require.Equal(t, "7_ann", sent[1].RecipientID)

		// Another post's comment, or a DM's message, is bad input.
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.PageComment(testPageID, testPageID+"_8", "8_dan", "user-dan", "Dan", "hello", "add")))
		e.waitJobs(t)
		other := e.conversationsByThread(t)[testPageID+"_8"]
		otherMsg := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Conversation { messages(first: 1) { edges { node { id } } } } } }`,
			map[string]any{"id": other.ID})
		r = e.gqlAs(t, e.Key, reply, map[string]any{"in": map[string]any{"conversationId": conv.ID, "text": "x",
			"inReplyToId": dig(otherMsg, "node", "messages", "edges", 0, "node", "id")}})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		r = e.gqlAs(t, e.Key, reply, map[string]any{"in": map[string]any{"conversationId": conv.ID, "text": "x", "inReplyToId": "msg_01HZZZZZZZZZZZZZZZZZZZZZZZ"}})
		require.Equal(t, "NOT_FOUND", r.Code())
	})
}
