package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
)

// Workspace A's key neither reads nor changes B's data, and answers
// NOT_FOUND for B's IDs — through queries, node(id:), nodes and every
// mutation that takes an ID.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d) // workspace B: owns the WhatsApp channel and its data
		e.whatsappText(t, "16505551234", "B's private question")
		b := e.gql(t, `{ conversations(first: 1) { edges { node { id contact { id } messages(first: 1) { edges { node { id } } } } } }
			channels(first: 1) { edges { node { id } } } }`, nil)
		bConv := dig(b, "conversations", "edges", 0, "node", "id").(string)
		bContact := dig(b, "conversations", "edges", 0, "node", "contact", "id").(string)
		bMsg := dig(b, "conversations", "edges", 0, "node", "messages", "edges", 0, "node", "id").(string)
		bChannel := dig(b, "channels", "edges", 0, "node", "id").(string)
		bKey := dig(e.gql(t, `mutation { createAPIKey(input: {name: "b2", role: AGENT}) { apiKey { id } } }`, nil), "createAPIKey", "apiKey", "id").(string)

		_, aKey := e.newWorkspace(t, "A")

		// Lists are empty for A.
		a := e.gqlAs(t, aKey, `{ conversations(first: 10) { totalCount } messages(first: 10) { totalCount }
			contacts(first: 10) { totalCount } channels(first: 10) { totalCount } }`, nil)
		require.Empty(t, a.Errors)
		for _, k := range []string{"conversations", "messages", "contacts", "channels"} {
			require.EqualValues(t, 0, dig(a.Data, k, "totalCount"), k)
		}
		// Filters cannot reach across either.
		a = e.gqlAs(t, aKey, `query($id: ID!) { conversations(first: 10, where: {id: $id}) { totalCount } }`, map[string]any{"id": bConv})
		require.EqualValues(t, 0, dig(a.Data, "conversations", "totalCount"))

		// node and nodes answer NOT_FOUND for every one of B's IDs.
		for _, id := range []string{bConv, bContact, bMsg, bChannel, bKey, e.Workspace} {
			r := e.gqlAs(t, aKey, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
			require.Equal(t, "NOT_FOUND", r.Code(), "node(%s)", id)
			require.Nil(t, dig(r.Data, "node"))
			r = e.gqlAs(t, aKey, `query($id: ID!) { nodes(ids: [$id]) { id } }`, map[string]any{"id": id})
			require.Equal(t, "NOT_FOUND", r.Code(), "nodes(%s)", id)
		}
		// A malformed or unknown ID is NOT_FOUND too.
		r := e.gqlAs(t, aKey, `{ node(id: "cv_nope") { id } }`, nil)
		require.Equal(t, "NOT_FOUND", r.Code())

		// Mutations on B's objects answer NOT_FOUND and change nothing.
		muts := []struct {
			q    string
			vars map[string]any
		}{
			{`mutation($id: ID!) { updateConversation(id: $id, input: {status: RESOLVED}) { id } }`, map[string]any{"id": bConv}},
			{`mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hijack"}) { id } }`, map[string]any{"id": bConv}},
			{`mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": bChannel}},
			{`mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { id } }`, map[string]any{"id": bChannel}},
			{`mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": bKey}},
		}
		for _, m := range muts {
			r := e.gqlAs(t, aKey, m.q, m.vars)
			require.Equal(t, "NOT_FOUND", r.Code(), "%s: %+v", m.q, r.Errors)
		}
		after := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Conversation { status messages(first: 10) { totalCount } } } }`, map[string]any{"id": bConv})
		require.Equal(t, "OPEN", dig(after, "node", "status"))
		require.EqualValues(t, 1, dig(after, "node", "messages", "totalCount"))
		ch := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Channel { status aiMode } } }`, map[string]any{"id": bChannel})
		require.Equal(t, "ACTIVE", dig(ch, "node", "status"))
		require.Equal(t, "DRAFT", dig(ch, "node", "aiMode"))
		require.Equal(t, 0, storetest.CountJobs(t, e.App.Store.DB, "outbound.deliver"))
	})
}

// Role checks guard every mutation.
func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	e.whatsappText(t, "16505551234", "hi")
	conv := dig(e.gql(t, `{ conversations(first: 1) { edges { node { id } } } }`, nil), "conversations", "edges", 0, "node", "id").(string)
	key := func(role string) string {
		return dig(e.gql(t, `mutation($r: APIKeyRole!) { createAPIKey(input: {name: "k", role: $r}) { key } }`, map[string]any{"r": role}), "createAPIKey", "key").(string)
	}
	analyst, agent, admin := key("ANALYST"), key("AGENT"), key("ADMIN")

	// Analysts read, never write.
	r := e.gqlAs(t, analyst, `{ viewer { role } conversations(first: 1) { totalCount } }`, nil)
	require.Empty(t, r.Errors)
	require.Equal(t, "ANALYST", dig(r.Data, "viewer", "role"))
	r = e.gqlAs(t, analyst, `mutation($id: ID!) { updateConversation(id: $id, input: {status: RESOLVED}) { id } }`, map[string]any{"id": conv})
	require.Equal(t, "FORBIDDEN", r.Code())
	// Agents triage and reply, but manage neither keys nor channels.
	r = e.gqlAs(t, agent, `mutation($id: ID!) { updateConversation(id: $id, input: {status: PENDING}) { status } }`, map[string]any{"id": conv})
	require.Empty(t, r.Errors)
	r = e.gqlAs(t, agent, `mutation { createAPIKey(input: {name: "x", role: AGENT}) { key } }`, nil)
	require.Equal(t, "FORBIDDEN", r.Code())
	r = e.gqlAs(t, agent, `mutation($id: ID!) { disconnectChannel(id: $id) { id } }`, map[string]any{"id": e.WAChannel})
	require.Equal(t, "FORBIDDEN", r.Code())
	// Admins cannot mint owners, nor revoke them.
	r = e.gqlAs(t, admin, `mutation { createAPIKey(input: {name: "x", role: OWNER}) { key } }`, nil)
	require.Equal(t, "FORBIDDEN", r.Code())
	owners := e.gql(t, `{ apiKeys(first: 10) { edges { node { id role } } } }`, nil)
	ownerKey := dig(owners, "apiKeys", "edges", 0, "node", "id").(string)
	require.Equal(t, "OWNER", dig(owners, "apiKeys", "edges", 0, "node", "role"))
	r = e.gqlAs(t, admin, `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": ownerKey})
	require.Equal(t, "FORBIDDEN", r.Code())
	// The last owner key stays.
	r = e.gqlAs(t, e.Key, `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, map[string]any{"id": ownerKey})
	require.Equal(t, "CONFLICT", r.Code())
	// Agents use the knowledge base; admins manage it.
	addDoc := `mutation { addKnowledgeDocument(input: {title: "Hours", content: "Open at 9am."}) { id } }`
	r = e.gqlAs(t, agent, addDoc, nil)
	require.Equal(t, "FORBIDDEN", r.Code())
	r = e.gqlAs(t, agent, `{ knowledgeDocuments(first: 1) { totalCount } }`, nil)
	require.Empty(t, r.Errors)
	r = e.gqlAs(t, admin, addDoc, nil)
	require.Empty(t, r.Errors)

	// A revoked key stops working at once.
	id := dig(e.gqlAs(t, admin, `{ viewer { role } }`, nil).Data, "viewer", "role")
	require.Equal(t, "ADMIN", id)
	keys := e.gql(t, `mutation { createAPIKey(input: {name: "tmp", role: AGENT}) { key apiKey { id prefix } } }`, nil)
	tmpKey := dig(keys, "createAPIKey", "key").(string)
	require.Equal(t, tmpKey[:12], dig(keys, "createAPIKey", "apiKey", "prefix"))
	e.gql(t, `mutation($id: ID!) { revokeAPIKey(id: $id) { revokedAt } }`, map[string]any{"id": dig(keys, "createAPIKey", "apiKey", "id")})
	require.Equal(t, "UNAUTHENTICATED", e.gqlAs(t, tmpKey, `{ viewer { role } }`, nil).Code())

	// Invalid input is rejected with BAD_USER_INPUT and changes nothing.
	r = e.gqlAs(t, agent, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "   "}) { id } }`, map[string]any{"id": conv})
	require.Equal(t, "BAD_USER_INPUT", r.Code())
	r = e.gqlAs(t, agent, `mutation($id: ID!) { updateConversation(id: $id, input: {status: NOPE}) { id } }`, map[string]any{"id": conv})
	require.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Code())
	r = e.gqlAs(t, agent, `mutation($id: ID!) { updateConversation(id: $id, input: {assigneeId: "usr_01JD3V0000000000000000000A"}) { id } }`, map[string]any{"id": conv})
	require.Equal(t, "BAD_USER_INPUT", r.Code())

	// Audit entries for the sensitive mutations, newest first, for admins.
	var n int
	require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM audit_logs WHERE action IN ('apikey.create','apikey.revoke','channel.connect')`).Scan(&n))
	require.GreaterOrEqual(t, n, 6)
	r = e.gqlAs(t, admin, `{ auditLogs(first: 3) { totalCount edges { node { action actor targetType } } } apiKeys(first: 20) { totalCount edges { node { prefix role revokedAt } } } }`, nil)
	require.Empty(t, r.Errors)
	require.Equal(t, "apikey.revoke", dig(r.Data, "auditLogs", "edges", 0, "node", "action"))
	// Every mutation is audited (replies, triage too): the connection counts them all.
	var total int
	require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM audit_logs`).Scan(&total))
	require.Greater(t, total, n)
	require.EqualValues(t, total, dig(r.Data, "auditLogs", "totalCount"))
	require.EqualValues(t, 5, dig(r.Data, "apiKeys", "totalCount"), "the env owner key, analyst, agent, admin and tmp")
	raw, _ := json.Marshal(r.Data)
	require.NotContains(t, string(raw), tmpKey[12:], "a key is never shown again")
	for _, k := range []string{agent, analyst} {
		r = e.gqlAs(t, k, `{ auditLogs(first: 1) { totalCount } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())
		r = e.gqlAs(t, k, `{ apiKeys(first: 1) { totalCount } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())
	}
}

// Depth and complexity limits reject abusive operations before they run.
func TestGraphQLLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	deep := `{ conversations(first: 1) { edges { node { channel { conversations(first: 1) { edges { node { channel { conversations(first: 1) { edges { node { channel { id } } } } } } } } } } } } }`
	r := e.gqlAs(t, e.Key, deep, nil)
	require.NotEmpty(t, r.Errors)
	require.Contains(t, r.Errors[0].Message, "nested")
	wide := `{ conversations(first: 200) { edges { node { messages(first: 200) { edges { node { id } } } } } } }`
	r = e.gqlAs(t, e.Key, wide, nil)
	require.Equal(t, "COMPLEXITY_LIMIT_EXCEEDED", r.Code())
	r = e.gqlAs(t, e.Key, `{ conversations(first: 1000) { edges { node { id } } } }`, nil)
	require.Equal(t, "BAD_USER_INPUT", r.Code(), "over the maximum page size")
}
