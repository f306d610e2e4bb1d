package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/internal/testenv"
)

const teamPassword = "correct horse battery staple"

// gqlIn runs an operation with a credential and an X-Neksio-Workspace.
func (e *env) gqlIn(t testing.TB, token, workspace, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Neksio-Workspace", workspace)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	out.Status = resp.StatusCode
	return out
}

// signIn signs in over HTTP without a credential and returns the token.
func (e *env) signIn(t testing.TB, email, password string) string {
	t.Helper()
	r := e.gqlAs(t, "", `mutation($in: SignInInput!) { signIn(input: $in) { token expiresAt user { id email name } } }`,
		map[string]any{"in": map[string]any{"email": email, "password": password}})
	require.Empty(t, r.Errors, "sign in %s", email)
	return dig(r.Data, "signIn", "token").(string)
}

// wsInit opens a graphql-transport-ws connection and sends connection_init
// with payload, without waiting for the answer.
func (e *env) wsInit(t *testing.T, payload map[string]any) *rtSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { c.CloseNow() })
	s := &rtSocket{t: t, c: c}
	s.send(map[string]any{"type": "connection_init", "payload": payload})
	return s
}

// closeCode reads until the server closes the connection and returns its code.
func (s *rtSocket) closeCode() websocket.StatusCode {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	for {
		if _, _, err := s.c.Read(ctx); err != nil {
			require.NotErrorIs(s.t, err, context.DeadlineExceeded, "the server did not close the connection")
			return websocket.CloseStatus(err)
		}
	}
}

// TestTeamEndToEnd: people sign in, work the inbox together and are
// managed through the API, on both databases.
func TestTeamEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		logs := &testenv.LogBuffer{}
		e := newEnv(t, d, withLogOutput(logs))
		t.Cleanup(func() {
			if t.Failed() {
				t.Log(logs.String())
			}
		})
		ctx := context.Background()
		secrets := []string{teamPassword}
		tm := e.App.GraphDeps.Team

		// The operator's first person: an admin of A.
		admin, _, err := tm.CreateUser(ctx, "admin@example.com", e.Workspace, tenant.RoleAdmin, func() (string, error) { return teamPassword, nil })
		require.NoError(t, err)

		// No credential: only signIn and acceptInvite run, everything else is 401.
		for _, q := range []string{`{ viewer { role } }`, `mutation { signOut }`,
			`mutation { signIn(input: {email: "a@b.c", password: "x"}) { token } viewer: signOut }`} {
			r := e.gqlAs(t, "", q, nil)
			require.Equal(t, http.StatusUnauthorized, r.Status, q)
			require.Equal(t, "UNAUTHENTICATED", r.Code(), q)
		}
		// Wrong password and unknown email: one answer.
		var answers []string
		for _, c := range [][2]string{{"admin@example.com", "wrong password!!"}, {"nobody@example.com", teamPassword}} {
			r := e.gqlAs(t, "", `mutation($in: SignInInput!) { signIn(input: $in) { token } }`,
				map[string]any{"in": map[string]any{"email": c[0], "password": c[1]}})
			require.Equal(t, "UNAUTHENTICATED", r.Code())
			answers = append(answers, r.Errors[0].Message)
		}
		require.Equal(t, answers[0], answers[1])

		adminTok := e.signIn(t, "Admin@Example.com", teamPassword)
		secrets = append(secrets, adminTok)
		require.True(t, strings.HasPrefix(adminTok, "nksess_"))
		v := e.gqlAs(t, adminTok, `{ viewer { role credential user { id email } apiKey { id } workspace { id } }
			me { id email memberships { workspace { id name } role } } }`, nil)
		require.Empty(t, v.Errors)
		require.Equal(t, "SESSION", dig(v.Data, "viewer", "credential"))
		require.Equal(t, "ADMIN", dig(v.Data, "viewer", "role"))
		require.Equal(t, string(admin.ID), dig(v.Data, "viewer", "user", "id"))
		require.Nil(t, dig(v.Data, "viewer", "apiKey"))
		require.Equal(t, string(admin.ID), dig(v.Data, "me", "id"))
		require.Equal(t, e.Workspace, dig(v.Data, "me", "memberships", 0, "workspace", "id"))
		kv := e.gql(t, `{ viewer { credential apiKey { id } user { id } } me { id } }`, nil)
		require.Equal(t, "API_KEY", dig(kv, "viewer", "credential"))
		require.NotNil(t, dig(kv, "viewer", "apiKey", "id"))
		require.Nil(t, dig(kv, "me"))

		// Invitations: agents may not, the admin may; the link carries the token.
		inviteQ := `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { inviteUrl invite { id email role expiresAt } } }`
		r := e.gqlAs(t, adminTok, inviteQ, map[string]any{"in": map[string]any{"email": "ann@example.com", "role": "OWNER"}})
		require.Equal(t, "FORBIDDEN", r.Code(), "an admin cannot invite an owner")
		r = e.gqlAs(t, adminTok, inviteQ, map[string]any{"in": map[string]any{"email": "ann@example.com", "role": "AGENT"}})
		require.Empty(t, r.Errors)
		link, err := url.Parse(dig(r.Data, "inviteMember", "inviteUrl").(string))
		require.NoError(t, err)
		annInvite := link.Query().Get("token")
		secrets = append(secrets, annInvite)
		require.True(t, strings.HasPrefix(annInvite, "nksinv_"))
		acceptQ := `mutation($in: AcceptInviteInput!) { acceptInvite(input: $in) { token user { id email name } workspace { id } } }`
		acc := e.gqlAs(t, "", acceptQ, map[string]any{"in": map[string]any{"token": annInvite, "name": "Ann Lee", "password": teamPassword}})
		require.Empty(t, acc.Errors)
		annTok := dig(acc.Data, "acceptInvite", "token").(string)
		annID := dig(acc.Data, "acceptInvite", "user", "id").(string)
		secrets = append(secrets, annTok)
		require.Equal(t, e.Workspace, dig(acc.Data, "acceptInvite", "workspace", "id"))
		again := e.gqlAs(t, "", acceptQ, map[string]any{"in": map[string]any{"token": annInvite, "name": "Ann", "password": teamPassword}})
		require.Equal(t, "BAD_USER_INPUT", again.Code(), "an invitation works once")

		// Ann, an agent, neither invites nor changes roles.
		r = e.gqlAs(t, annTok, inviteQ, map[string]any{"in": map[string]any{"email": "x@example.com", "role": "ANALYST"}})
		require.Equal(t, "FORBIDDEN", r.Code())
		r = e.gqlAs(t, annTok, `mutation($id: ID!) { updateMember(id: $id, input: {role: ADMIN}) { role } }`, map[string]any{"id": annID})
		require.Equal(t, "FORBIDDEN", r.Code())
		members := e.gqlAs(t, annTok, `{ members { id email name role } }`, nil)
		require.Empty(t, members.Errors)
		require.Len(t, dig(members.Data, "members"), 2)

		// Another workspace, B: Ann's session cannot act there or see its data.
		bWS, bKey := e.newWorkspace(t, "B")
		r = e.gqlIn(t, annTok, bWS, `{ viewer { workspace { id } } }`, nil)
		require.Equal(t, http.StatusForbidden, r.Status)
		require.Equal(t, "FORBIDDEN", r.Code())
		r = e.gqlIn(t, e.Key, bWS, `{ viewer { workspace { id } } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code(), "a key names its own workspace only")
		bConvs := e.gqlAs(t, bKey, `{ conversations(first: 1) { totalCount } }`, nil)
		require.Empty(t, bConvs.Errors)
		ws := e.wsInit(t, map[string]any{"authorization": "Bearer " + annTok, "workspace": bWS})
		require.Equal(t, websocket.StatusCode(4403), ws.closeCode())

		// B invites Ann too: she joins with her password and picks B per request.
		r = e.gqlAs(t, bKey, inviteQ, map[string]any{"in": map[string]any{"email": "ann@example.com", "role": "ADMIN"}})
		require.Empty(t, r.Errors)
		link, _ = url.Parse(dig(r.Data, "inviteMember", "inviteUrl").(string))
		secrets = append(secrets, link.Query().Get("token"))
		acc = e.gqlAs(t, "", acceptQ, map[string]any{"in": map[string]any{"token": link.Query().Get("token"), "password": teamPassword}})
		require.Empty(t, acc.Errors)
		secrets = append(secrets, dig(acc.Data, "acceptInvite", "token").(string))
		r = e.gqlIn(t, annTok, bWS, `{ viewer { role workspace { id } } me { memberships { workspace { id } role } } }`, nil)
		require.Empty(t, r.Errors)
		require.Equal(t, "ADMIN", dig(r.Data, "viewer", "role"))
		require.Equal(t, bWS, dig(r.Data, "viewer", "workspace", "id"))
		require.Len(t, dig(r.Data, "me", "memberships"), 2)
		r = e.gqlAs(t, annTok, `{ viewer { role workspace { id } } }`, nil)
		require.Equal(t, e.Workspace, dig(r.Data, "viewer", "workspace", "id"), "default: the oldest membership")
		require.Equal(t, "AGENT", dig(r.Data, "viewer", "role"))

		// A customer writes; the agent hands off a request for a person.
		e.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { aiMode } }`, map[string]any{"id": e.WAChannel})
		e.gql(t, `mutation { updateAgentSettings(input: {handoffMessage: "A person from our team will answer you here."}) { handoffMessage } }`, nil)
		e.whatsappText(t, "16505557777", "I want to talk to a person")
		e.waitJobs(t)
		q := e.gqlAs(t, annTok, `{ conversations(first: 5, where: {needsHuman: true, hasAssignee: false}) { edges { node { id needsHuman handoffReason assignee { id } } } } }`, nil)
		require.Empty(t, q.Errors)
		conv, _ := dig(q.Data, "conversations", "edges", 0, "node", "id").(string)
		require.NotEmpty(t, conv, "the handoff is in the needs-human queue")
		require.NotEmpty(t, dig(q.Data, "conversations", "edges", 0, "node", "handoffReason"))

		// Ann listens for her assignments over WebSocket with her session.
		annWS := e.subscribeWS(t, annTok)
		annWS.subscribe("mine", `subscription { conversationAssigned { id assignee { id } assignedBy { __typename ... on Member { id } } } }`)
		e.waitSubscribers(t, 2) // the subscription and the session's member watch
		assignQ := `mutation($id: ID!, $to: ID!) { updateConversation(id: $id, input: {assigneeId: $to}) { id needsHuman assignee { id } } }`
		r = e.gqlAs(t, adminTok, assignQ, map[string]any{"id": conv, "to": string(admin.ID)})
		require.Empty(t, r.Errors)
		r = e.gqlAs(t, adminTok, assignQ, map[string]any{"id": conv, "to": annID})
		require.Empty(t, r.Errors)
		require.Equal(t, false, dig(r.Data, "updateConversation", "needsHuman"))
		got := annWS.results("mine")["mine"]
		require.Equal(t, conv, dig(got, "conversationAssigned", "id"), "only her own assignment reaches her")
		require.Equal(t, annID, dig(got, "conversationAssigned", "assignee", "id"))
		require.Equal(t, string(admin.ID), dig(got, "conversationAssigned", "assignedBy", "id"))
		mine := e.gqlAs(t, annTok, `query($me: ID!) { conversations(first: 5, where: {assigneeID: $me}) { totalCount } }`, map[string]any{"me": annID})
		require.EqualValues(t, 1, dig(mine.Data, "conversations", "totalCount"))
		r = e.gqlAs(t, bKey, assignQ, map[string]any{"id": conv, "to": annID})
		require.Equal(t, "NOT_FOUND", r.Code(), "B cannot touch A's conversation")

		// Ann's private note: listed, streamed, never sent, never given to the agent.
		sentBefore := len(e.WhatsApp.Sent())
		runsBefore := dig(e.gql(t, `{ agentRuns(first: 1) { totalCount } }`, nil), "agentRuns", "totalCount")
		annWS.subscribe("notes", fmt.Sprintf(`subscription { messageAdded(conversationId: %q) { id text direction isNote } }`, conv))
		e.waitSubscribers(t, 3)
		for _, bad := range []string{"", strings.Repeat("x", 100<<10)} {
			r = e.gqlAs(t, annTok, `mutation($in: AddNoteInput!) { addNote(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"conversationId": conv, "text": bad}})
			require.Equal(t, "BAD_USER_INPUT", r.Code())
		}
		note := e.gqlAs(t, annTok, `mutation($in: AddNoteInput!) { addNote(input: $in) { id text direction type isNote author { __typename ... on Member { id email role } } } }`,
			map[string]any{"in": map[string]any{"conversationId": conv, "text": "Refund approved, talk to a person about shipping"}})
		require.Empty(t, note.Errors)
		require.Equal(t, "INTERNAL", dig(note.Data, "addNote", "direction"))
		require.Equal(t, "note", dig(note.Data, "addNote", "type"))
		require.Equal(t, true, dig(note.Data, "addNote", "isNote"))
		require.Equal(t, annID, dig(note.Data, "addNote", "author", "id"))
		require.Equal(t, "AGENT", dig(note.Data, "addNote", "author", "role"))
		require.Equal(t, true, dig(annWS.results("notes")["notes"], "messageAdded", "isNote"))
		e.waitJobs(t)
		require.Len(t, e.WhatsApp.Sent(), sentBefore, "a note is never sent")
		require.Equal(t, runsBefore, dig(e.gql(t, `{ agentRuns(first: 1) { totalCount } }`, nil), "agentRuns", "totalCount"), "nor given to the agent")

		// Labels and the filter; a duplicate name is a conflict.
		lbl := e.gqlAs(t, adminTok, `mutation { createLabel(input: {name: "Refunds", color: "#ff8800"}) { id name } }`, nil)
		require.Empty(t, lbl.Errors)
		labelID := dig(lbl.Data, "createLabel", "id").(string)
		r = e.gqlAs(t, adminTok, `mutation { createLabel(input: {name: "refunds"}) { id } }`, nil)
		require.Equal(t, "CONFLICT", r.Code())
		r = e.gqlAs(t, annTok, `mutation { createLabel(input: {name: "Mine"}) { id } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())
		r = e.gqlAs(t, annTok, `mutation($c: ID!, $l: ID!) { labelConversation(input: {conversationId: $c, labelId: $l}) { id labels { name } } }`,
			map[string]any{"c": conv, "l": labelID})
		require.Empty(t, r.Errors)
		require.Equal(t, "Refunds", dig(r.Data, "labelConversation", "labels", 0, "name"))
		f := e.gqlAs(t, annTok, `{ conversations(first: 5, where: {hasLabelsWith: [{name: "Refunds"}]}) { edges { node { id } } } }`, nil)
		require.Equal(t, conv, dig(f.Data, "conversations", "edges", 0, "node", "id"))
		r = e.gqlAs(t, bKey, `mutation($c: ID!, $l: ID!) { labelConversation(input: {conversationId: $c, labelId: $l}) { id } }`,
			map[string]any{"c": conv, "l": labelID})
		require.Equal(t, "NOT_FOUND", r.Code())

		// A canned reply, its variables filled in when sent by Ann.
		cr := e.gqlAs(t, annTok, `mutation { createCannedReply(input: {shortcut: "ship", text: "Hi {{contact.first_name}}, {{agent.name}} here from {{workspace.name}}."}) { id } }`, nil)
		require.Empty(t, cr.Errors)
		r = e.gqlAs(t, annTok, `mutation { createCannedReply(input: {shortcut: "bad", text: "Hi {{contact.phone}}"}) { id } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		reply := e.gqlAs(t, annTok, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id text author { __typename ... on Member { id } } } }`,
			map[string]any{"in": map[string]any{"conversationId": conv, "cannedReplyId": dig(cr.Data, "createCannedReply", "id")}})
		require.Empty(t, reply.Errors)
		require.Equal(t, "Hi Customer, Ann Lee here from Acme Coffee.", dig(reply.Data, "sendReply", "text"))
		e.gql(t, `mutation($in: SendReplyInput!) { sendReply(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"conversationId": conv, "text": "From the integration"}})
		e.waitJobs(t)

		// Message.author for each kind.
		msgs := e.gqlAs(t, annTok, `query($id: ID!) { node(id: $id) { ... on Conversation { messages(first: 20) { edges { node {
			text direction authorKind author { __typename ... on Member { id } ... on AIAgent { name } ... on Contact { id } ... on APIKey { id } } } } } } } }`,
			map[string]any{"id": conv})
		require.Empty(t, msgs.Errors)
		kinds := map[string]string{}
		for _, edge := range dig(msgs.Data, "node", "messages", "edges").([]any) {
			n := dig(edge, "node").(map[string]any)
			kinds[n["text"].(string)] = dig(n, "author", "__typename").(string)
		}
		require.Equal(t, map[string]string{
			"I want to talk to a person":                       "Contact",
			"A person from our team will answer you here.":     "AIAgent",
			"Refund approved, talk to a person about shipping": "Member",
			"Hi Customer, Ann Lee here from Acme Coffee.":      "Member",
			"From the integration":                             "APIKey",
		}, kinds)

		// Removal: Bob's open WebSocket is closed with 4403, his next request is 401.
		_, _, err = tm.CreateUser(ctx, "bob@example.com", e.Workspace, tenant.RoleAgent, func() (string, error) { return teamPassword, nil })
		require.NoError(t, err)
		bobTok := e.signIn(t, "bob@example.com", teamPassword)
		secrets = append(secrets, bobTok)
		bobID := dig(e.gqlAs(t, bobTok, `{ me { id } }`, nil).Data, "me", "id").(string)
		bobWS := e.subscribeWS(t, bobTok)
		bobWS.subscribe("up", `subscription { conversationUpdated { id } }`)
		e.waitSubscribers(t, 5)
		r = e.gqlAs(t, annTok, `mutation($id: ID!) { removeMember(id: $id) { id } }`, map[string]any{"id": bobID})
		require.Equal(t, "FORBIDDEN", r.Code(), "agents remove nobody but themselves")
		r = e.gqlAs(t, adminTok, `mutation($id: ID!) { removeMember(id: $id) { id email } }`, map[string]any{"id": bobID})
		require.Empty(t, r.Errors)
		require.Equal(t, websocket.StatusCode(4403), bobWS.closeCode())
		r = e.gqlAs(t, bobTok, `{ viewer { role } }`, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "UNAUTHENTICATED", r.Code())

		// A role change closes the member's connections too (they reconnect with the new role).
		r = e.gqlAs(t, adminTok, `mutation($id: ID!) { updateMember(id: $id, input: {role: ANALYST}) { id role } }`, map[string]any{"id": annID})
		require.Empty(t, r.Errors)
		require.Equal(t, "ANALYST", dig(r.Data, "updateMember", "role"))
		require.Equal(t, websocket.StatusCode(4403), annWS.closeCode())
		r = e.gqlAs(t, annTok, `mutation($in: AddNoteInput!) { addNote(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"conversationId": conv, "text": "still here"}})
		require.Equal(t, "FORBIDDEN", r.Code(), "the new role applies at once")

		// Audit: every member change is recorded.
		audit := e.gql(t, `{ auditLogs(first: 50) { edges { node { action actor } } } }`, nil)
		actions := map[string]bool{}
		for _, edge := range dig(audit, "auditLogs", "edges").([]any) {
			actions[dig(edge, "node", "action").(string)] = true
		}
		for _, a := range []string{"member.add", "invite.create", "invite.accept", "conversation.assign", "member.remove", "member.role", "label.create", "canned_reply.create"} {
			require.True(t, actions[a], a)
		}

		// Sign out ends the session.
		r = e.gqlAs(t, adminTok, `mutation { signOut }`, nil)
		require.Empty(t, r.Errors)
		r = e.gqlAs(t, adminTok, `{ viewer { role } }`, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)

		// Throttling: an email hammered with wrong passwords gets 429 RATE_LIMITED.
		var last gqlResponse
		for range 12 {
			last = e.gqlAs(t, "", `mutation { signIn(input: {email: "ann@example.com", password: "guess guess guess"}) { token } }`, nil)
		}
		require.Equal(t, http.StatusTooManyRequests, last.Status)
		require.Equal(t, "RATE_LIMITED", last.Code())

		// No token, password or invitation token anywhere in the database or the logs.
		dump := dumpDatabase(t, e)
		for _, s := range secrets {
			require.NotContains(t, dump, s)
			require.NotContains(t, logs.String(), s)
		}
		require.Contains(t, dump, "ann@example.com", "the dump did read the tables")
	})
}

// dumpDatabase returns every row of every table as text.
func dumpDatabase(t *testing.T, e *env) string {
	t.Helper()
	db := e.App.Store.DB
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if e.App.Cfg.Postgres() {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := db.Query(q)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.NotEmpty(t, tables)
	var out strings.Builder
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		require.NoError(t, err)
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				out.Write(v)
				out.WriteByte('\t')
			}
			out.WriteByte('\n')
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out.String()
}
