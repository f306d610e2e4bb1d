package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/post"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// mutationCall is one GraphQL call of TestEveryMutationIsAudited.
type mutationCall struct {
	Query string
	Vars  map[string]any
	// Key is the credential; "" is the env's owner key. Public mutations
	// (signIn, acceptInvite) set NoCredential.
	Key          string
	NoCredential bool
	// Upload sends Vars' file at UploadPath as a GraphQL multipart request.
	UploadPath string
	UploadName string
	Upload     []byte
}

// mutationFixture prepares what a mutation needs (through the API or the
// store) and returns one valid call of it.
type mutationFixture func(t *testing.T, w *auditWalk) mutationCall

// mutationFixtures holds a valid call of every mutation in the schema.
// TestEveryMutationIsAudited runs each one and fails when it writes no
// audit entry, and fails for a mutation that has no fixture here: a new
// mutation must add its line (and its audit entry).
var mutationFixtures = map[string]mutationFixture{
	// Privacy operations (schema/privacy.graphqls). Deleting and restoring
	// run in a workspace of their own, not the one the walk works in.
	// Analytics (schema/analytics.graphqls).
	"exportAnalytics": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { exportAnalytics(input: {range: {from: "2026-01-01T00:00:00Z", to: "2026-01-08T00:00:00Z", timezone: "UTC"}}) { __typename } }`}
	},
	"requestExport": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { requestExport(input: {scope: WORKSPACE}) { __typename } }`}
	},
	"eraseContact": func(t *testing.T, w *auditWalk) mutationCall {
		c := w.e.gql(t, `query($id: ID!) { node(id: $id) { ... on Conversation { contact { id } } } }`, map[string]any{"id": w.conversation(t)})
		return mutationCall{Query: `mutation($id: ID!) { eraseContact(id: $id) { __typename } }`, Vars: map[string]any{"id": dig(c, "node", "contact", "id")}}
	},
	"deleteWorkspace": func(t *testing.T, w *auditWalk) mutationCall {
		name := w.name("Leaving ")
		_, key := w.e.newWorkspace(t, name)
		return mutationCall{Query: `mutation($n: String!) { deleteWorkspace(input: {confirmName: $n}) { __typename } }`,
			Vars: map[string]any{"n": name}, Key: key}
	},
	"restoreWorkspace": func(t *testing.T, w *auditWalk) mutationCall {
		// The workspace's keys end with the deletion: its owner signs in
		// again to restore it.
		name := w.name("Returning ")
		ws, key := w.e.newWorkspace(t, name)
		email := w.email()
		_, _, err := w.e.App.GraphDeps.Team.CreateUser(context.Background(), email, ws, tenant.RoleOwner,
			func() (string, error) { return teamPassword, nil })
		require.NoError(t, err)
		r := w.e.gqlAs(t, key, `mutation($n: String!) { deleteWorkspace(input: {confirmName: $n}) { id } }`, map[string]any{"n": name})
		require.Empty(t, r.Errors)
		return mutationCall{Query: `mutation { restoreWorkspace { __typename } }`, Key: w.e.signIn(t, email, teamPassword)}
	},

	// Knowledge base and agent (schema/agent.graphqls).
	"addKnowledgeDocument": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { addKnowledgeDocument(input: {title: "Walk", content: "We open daily.", format: TEXT}) { __typename } }`}
	},
	"uploadKnowledgeDocument": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($in: UploadKnowledgeDocumentInput!) { uploadKnowledgeDocument(input: $in) { __typename } }`,
			Vars: map[string]any{"in": map[string]any{"file": nil}}, UploadPath: "variables.in.file", UploadName: "walk.md", Upload: []byte("# Walk\nWe open daily.")}
	},
	"updateKnowledgeDocument": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { updateKnowledgeDocument(id: $id, input: {title: "Walk 2"}) { __typename } }`,
			Vars: map[string]any{"id": w.document(t)}}
	},
	"deleteKnowledgeDocument": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { deleteKnowledgeDocument(id: $id) { __typename } }`, Vars: map[string]any{"id": w.document(t)}}
	},
	"updateAgentSettings": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { updateAgentSettings(input: {tone: "warm"}) { __typename } }`}
	},
	"approveDraft": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { approveDraft(id: $id) { __typename } }`, Vars: map[string]any{"id": w.draft(t)}}
	},
	"discardDraft": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { discardDraft(id: $id) { __typename } }`, Vars: map[string]any{"id": w.draft(t)}}
	},

	// Keys, conversations and channels (schema/neksio.graphqls).
	"createAPIKey": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { createAPIKey(input: {name: "walk", role: AGENT}) { __typename } }`}
	},
	"revokeAPIKey": func(t *testing.T, w *auditWalk) mutationCall {
		k := w.e.gql(t, `mutation { createAPIKey(input: {name: "walk", role: AGENT}) { apiKey { id } } }`, nil)
		return mutationCall{Query: `mutation($id: ID!) { revokeAPIKey(id: $id) { __typename } }`, Vars: map[string]any{"id": dig(k, "createAPIKey", "apiKey", "id")}}
	},
	"updateConversation": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { updateConversation(id: $id, input: {status: RESOLVED}) { __typename } }`,
			Vars: map[string]any{"id": w.conversation(t)}}
	},
	"connectChannel": func(t *testing.T, w *auditWalk) mutationCall {
		w.e.Meta.AddPage(testPageID, "Acme Page", testPageToken)
		return mutationCall{Query: `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { __typename } }`,
			Vars: map[string]any{"in": map[string]any{"connector": "meta", "externalId": testPageID, "name": "Acme Page",
				"platform": "facebook", "credentials": map[string]any{"accessToken": testPageToken}}}}
	},
	"updateChannel": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { updateChannel(id: $id, input: {name: "Acme WhatsApp 2"}) { __typename } }`,
			Vars: map[string]any{"id": w.e.WAChannel}}
	},
	"disconnectChannel": func(t *testing.T, w *auditWalk) mutationCall {
		w.e.Meta.AddInstagramAccount(testIGID, "acme_shop", testIGToken)
		ig := w.e.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"connector": "meta", "externalId": testIGID, "name": "Acme IG",
				"platform": "instagram", "credentials": map[string]any{"accessToken": testIGToken}}})
		return mutationCall{Query: `mutation($id: ID!) { disconnectChannel(id: $id) { __typename } }`, Vars: map[string]any{"id": dig(ig, "connectChannel", "id")}}
	},
	"sendReply": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Thanks!"}) { __typename } }`,
			Vars: map[string]any{"id": w.conversation(t)}}
	},
	"deleteReviewReply": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { deleteReviewReply(conversationId: $id) { __typename } }`,
			Vars: map[string]any{"id": w.reviewWithReply(t)}}
	},

	// Onboarding (schema/onboarding.graphqls).
	"startChannelAuthorization": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { startChannelAuthorization(connector: "meta") { __typename } }`}
	},
	"sendTemplate": func(t *testing.T, w *auditWalk) mutationCall {
		w.e.WhatsApp.AddTemplate(wasandbox.DefaultWABAID, wasandbox.TemplateDef{Name: "order_update", Language: "en_US", Category: "UTILITY",
			Status: "APPROVED", Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}, your order {{2}} is ready."}]`)})
		return mutationCall{Query: `mutation($id: ID!) { sendTemplate(input: {conversationId: $id, name: "order_update", language: "en_US", parameters: ["Ann", "#7"]}) { __typename } }`,
			Vars: map[string]any{"id": w.conversation(t)}}
	},

	// Privacy (schema/privacy.graphqls).
	"updateWorkspaceSettings": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { updateWorkspaceSettings(input: {auditRetentionDays: 400}) { __typename } }`}
	},

	// Publishing (schema/publish.graphqls).
	"uploadMedia": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($file: Upload!) { uploadMedia(file: $file) { __typename } }`,
			Vars: map[string]any{"file": nil}, UploadPath: "variables.file", UploadName: "walk.png", Upload: pngBytes(t)}
	},
	"createPost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($ch: ID!) { createPost(input: {text: "Walk post", targets: [{channelId: $ch}]}) { __typename } }`,
			Vars: map[string]any{"ch": w.page(t)}}
	},
	"updatePost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { updatePost(id: $id, input: {text: "Walk post 2"}) { __typename } }`,
			Vars: map[string]any{"id": w.post(t, "")}}
	},
	"deletePost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { deletePost(id: $id) { __typename } }`, Vars: map[string]any{"id": w.post(t, "")}}
	},
	"submitPost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { submitPost(id: $id) { __typename } }`, Vars: map[string]any{"id": w.post(t, "")}}
	},
	"approvePost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { approvePost(id: $id) { __typename } }`, Vars: map[string]any{"id": w.post(t, "submit")}}
	},
	"rejectPost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { rejectPost(id: $id, comment: "not yet") { __typename } }`, Vars: map[string]any{"id": w.post(t, "submit")}}
	},
	"commentOnPost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { commentOnPost(id: $id, comment: "looks good") { __typename } }`, Vars: map[string]any{"id": w.post(t, "")}}
	},
	"schedulePost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!, $at: Time) { schedulePost(id: $id, scheduledAt: $at) { __typename } }`,
			Vars: map[string]any{"id": w.post(t, "schedule"), "at": time.Now().Add(200 * 24 * time.Hour).UTC().Format(time.RFC3339)}}
	},
	"unschedulePost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { unschedulePost(id: $id) { __typename } }`, Vars: map[string]any{"id": w.post(t, "schedule")}}
	},
	"retryPostTarget": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { retryPostTarget(id: $id) { __typename } }`, Vars: map[string]any{"id": w.failedTarget(t)}}
	},
	"generatePost": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($ch: ID!) { generatePost(input: {brief: "opening hours", channelIds: [$ch]}) { __typename } }`,
			Vars: map[string]any{"ch": w.page(t)}}
	},
	"updatePublishingSettings": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation { updatePublishingSettings(input: {requirePostApproval: true}) { __typename } }`}
	},

	// Team inbox (schema/team.graphqls).
	"signIn": func(t *testing.T, w *auditWalk) mutationCall {
		email := w.person(t, tenant.RoleAgent)
		return mutationCall{NoCredential: true, Query: `mutation($in: SignInInput!) { signIn(input: $in) { __typename } }`,
			Vars: map[string]any{"in": map[string]any{"email": email, "password": teamPassword}}}
	},
	"signOut": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Key: w.e.signIn(t, w.person(t, tenant.RoleAgent), teamPassword), Query: `mutation { signOut }`}
	},
	"inviteMember": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { __typename } }`,
			Vars: map[string]any{"in": map[string]any{"email": w.email(), "role": "AGENT"}}}
	},
	"revokeInvite": func(t *testing.T, w *auditWalk) mutationCall {
		id, _ := w.invite(t)
		return mutationCall{Query: `mutation($id: ID!) { revokeInvite(id: $id) { __typename } }`, Vars: map[string]any{"id": id}}
	},
	"acceptInvite": func(t *testing.T, w *auditWalk) mutationCall {
		_, token := w.invite(t)
		return mutationCall{NoCredential: true, Query: `mutation($in: AcceptInviteInput!) { acceptInvite(input: $in) { __typename } }`,
			Vars: map[string]any{"in": map[string]any{"token": token, "name": "Walker", "password": teamPassword}}}
	},
	"updateMember": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { updateMember(id: $id, input: {role: ANALYST}) { __typename } }`,
			Vars: map[string]any{"id": w.member(t, w.person(t, tenant.RoleAgent))}}
	},
	"removeMember": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { removeMember(id: $id) { __typename } }`,
			Vars: map[string]any{"id": w.member(t, w.person(t, tenant.RoleAgent))}}
	},
	"addNote": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { addNote(input: {conversationId: $id, text: "Called back"}) { __typename } }`,
			Vars: map[string]any{"id": w.conversation(t)}}
	},
	"createLabel": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($n: String!) { createLabel(input: {name: $n}) { __typename } }`, Vars: map[string]any{"n": w.name("label")}}
	},
	"deleteLabel": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($id: ID!) { deleteLabel(id: $id) { __typename } }`, Vars: map[string]any{"id": w.label(t)}}
	},
	"labelConversation": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($c: ID!, $l: ID!) { labelConversation(input: {conversationId: $c, labelId: $l}) { __typename } }`,
			Vars: map[string]any{"c": w.conversation(t), "l": w.label(t)}}
	},
	"unlabelConversation": func(t *testing.T, w *auditWalk) mutationCall {
		c, l := w.conversation(t), w.label(t)
		w.e.gql(t, `mutation($c: ID!, $l: ID!) { labelConversation(input: {conversationId: $c, labelId: $l}) { id } }`, map[string]any{"c": c, "l": l})
		return mutationCall{Query: `mutation($c: ID!, $l: ID!) { unlabelConversation(input: {conversationId: $c, labelId: $l}) { __typename } }`,
			Vars: map[string]any{"c": c, "l": l}}
	},
	"createCannedReply": func(t *testing.T, w *auditWalk) mutationCall {
		return mutationCall{Query: `mutation($s: String!) { createCannedReply(input: {shortcut: $s, text: "Hello {{contact.first_name}}"}) { __typename } }`,
			Vars: map[string]any{"s": w.name("hi")}}
	},
	"deleteCannedReply": func(t *testing.T, w *auditWalk) mutationCall {
		c := w.e.gql(t, `mutation($s: String!) { createCannedReply(input: {shortcut: $s, text: "Hello"}) { id } }`, map[string]any{"s": w.name("bye")})
		return mutationCall{Query: `mutation($id: ID!) { deleteCannedReply(id: $id) { __typename } }`, Vars: map[string]any{"id": dig(c, "createCannedReply", "id")}}
	},
}

// auditWalk builds what fixtures need, each time anew.
type auditWalk struct {
	e      *env
	g      *googleEnv
	n      int
	pageCh string
}

func (w *auditWalk) name(prefix string) string {
	w.n++
	return fmt.Sprintf("%s%d", prefix, w.n)
}

func (w *auditWalk) email() string { return w.name("walker") + "@example.com" }

// conversation is a new WhatsApp conversation with a customer.
func (w *auditWalk) conversation(t *testing.T) string {
	from := fmt.Sprintf("1555990%04d", w.n)
	w.n++
	w.e.whatsappText(t, from, "Hello there")
	data := w.e.gql(t, `query($w: ConversationWhereInput) { conversations(first: 1, where: $w) { edges { node { id } } } }`,
		map[string]any{"w": map[string]any{"hasContactWith": []map[string]any{{"externalID": from}}}})
	id, _ := dig(data, "conversations", "edges", 0, "node", "id").(string)
	require.NotEmpty(t, id)
	return id
}

func (w *auditWalk) document(t *testing.T) string {
	d := w.e.gql(t, `mutation { addKnowledgeDocument(input: {title: "Walk", content: "Delivery costs £3.50 within 5 miles.", format: TEXT}) { id } }`, nil)
	return dig(d, "addKnowledgeDocument", "id").(string)
}

// draft is an AI draft answering a customer (channels start in DRAFT mode).
func (w *auditWalk) draft(t *testing.T) string {
	w.document(t)
	w.e.waitJobs(t)
	from := fmt.Sprintf("1555880%04d", w.n)
	w.n++
	w.e.whatsappText(t, from, "How much is delivery?")
	w.e.waitJobs(t)
	msg := w.e.inboundMessage(t, from)
	run := w.e.agentRun(t, msg["id"].(string))
	id, _ := dig(run, "reply", "id").(string)
	require.NotEmpty(t, id, "no draft: %v", run)
	return id
}

// page is a connected Facebook Page channel (publishing needs one).
func (w *auditWalk) page(t *testing.T) string {
	if w.pageCh == "" {
		w.e.Meta.AddPage(testPageID, "Acme Page", testPageToken)
		p := w.e.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"connector": "meta", "externalId": testPageID, "name": "Acme Page",
				"platform": "facebook", "credentials": map[string]any{"accessToken": testPageToken}}})
		w.pageCh = dig(p, "connectChannel", "id").(string)
	}
	return w.pageCh
}

// post is a new post on the Page, scheduled far ahead; then "submit"
// sends it to review, "schedule" submits and approves it (SCHEDULED).
func (w *auditWalk) post(t *testing.T, upTo string) string {
	id, r := w.e.createPost(t, w.e.Key, map[string]any{"text": w.name("Walk post "), "targets": []map[string]any{{"channelId": w.page(t)}},
		"scheduledAt": time.Now().Add(100 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	require.Empty(t, r.Errors)
	if upTo == "submit" || upTo == "schedule" {
		require.Empty(t, w.e.act(t, w.e.Key, "submitPost(id: $id)", id, "", nil).Errors)
	}
	if upTo == "schedule" {
		require.Empty(t, w.e.act(t, w.e.Key, "approvePost(id: $id)", id, "", nil).Errors)
	}
	return id
}

// failedTarget is the target of a post whose publishing failed (set in
// the store: the emulator publishes everything).
func (w *auditWalk) failedTarget(t *testing.T) string {
	id := w.post(t, "schedule")
	ctx := tenant.NewContext(context.Background(), tenant.System(w.e.Workspace, "test"))
	client := w.e.App.Store.Ent
	require.NoError(t, client.Post.UpdateOneID(pulid.ID(id)).SetStatus(post.StatusFailed).Exec(ctx))
	tg, err := client.PostTarget.Query().Where(posttarget.PostID(pulid.ID(id))).Only(ctx)
	require.NoError(t, err)
	require.NoError(t, client.PostTarget.UpdateOneID(tg.ID).SetStatus(posttarget.StatusFailed).SetFailedAt(time.Now()).Exec(ctx))
	return string(tg.ID)
}

// person is a new member with a password; it returns their email.
func (w *auditWalk) person(t *testing.T, role tenant.Role) string {
	email := w.email()
	_, _, err := w.e.App.GraphDeps.Team.CreateUser(context.Background(), email, w.e.Workspace, role,
		func() (string, error) { return teamPassword, nil })
	require.NoError(t, err)
	return email
}

func (w *auditWalk) member(t *testing.T, email string) string {
	ms := w.e.gql(t, `{ members { id email } }`, nil)["members"].([]any)
	for _, m := range ms {
		if m.(map[string]any)["email"] == email {
			return m.(map[string]any)["id"].(string)
		}
	}
	t.Fatalf("no member %s", email)
	return ""
}

// invite returns a new invitation's ID and token.
func (w *auditWalk) invite(t *testing.T) (id, token string) {
	r := w.e.gql(t, `mutation($in: InviteMemberInput!) { inviteMember(input: $in) { inviteUrl invite { id } } }`,
		map[string]any{"in": map[string]any{"email": w.email(), "role": "AGENT"}})
	link, err := url.Parse(dig(r, "inviteMember", "inviteUrl").(string))
	require.NoError(t, err)
	return dig(r, "inviteMember", "invite", "id").(string), link.Query().Get("token")
}

func (w *auditWalk) label(t *testing.T) string {
	l := w.e.gql(t, `mutation($n: String!) { createLabel(input: {name: $n}) { id } }`, map[string]any{"n": w.name("label")})
	return dig(l, "createLabel", "id").(string)
}

// reviewWithReply is a Google review conversation whose reply was sent.
func (w *auditWalk) reviewWithReply(t *testing.T) string {
	g := w.g
	rv := g.review(w.name("Reviewer "), 5, "Lovely")
	require.Equal(t, http.StatusOK, g.push(t, "NEW_REVIEW", rv.Name))
	g.waitJobs(t)
	convID := g.reviewConversation(t, rv.Name)["id"]
	before := len(g.G.Replies())
	g.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Thank you!"}) { id } }`, map[string]any{"id": convID})
	require.Eventually(t, func() bool { return len(g.G.Replies()) > before }, 60*time.Second, 50*time.Millisecond)
	g.waitJobs(t)
	return convID.(string)
}
