package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/graph/generated"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

// TestFastFieldsSameResponses runs the inbox, a thread and queries with
// nulls, enums, times, aliases, fragments, __typename, resolvers and
// errors through the server, on both paths of graph/generated (fast
// paths for plain struct fields, and gqlgen's for every field), and
// requires the same responses, byte for byte. Not parallel: the switch is
// process-wide (the other tests would only see the same responses).
func TestFastFieldsSameResponses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d)
		for c := range 4 {
			for i := range c + 1 {
				b.ingest(t, b.channel, fmt.Sprintf("cust-%d", c), fmt.Sprintf("c%d \"m%d\"\n<é>", c, i), fmt.Sprintf("wamid.%d.%d", c, i), sdk.ActionCreated)
			}
		}
		_, otherKey, otherCh := b.newWorkspace(t, "Other")
		b.ingest(t, otherCh, "cust-1", "other workspace", "wamid.other", sdk.ActionCreated)
		conv := b.post(t, b.key, `{ conversations(first: 1) { edges { node { id } } } }`, nil)["conversations"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"]

		const everyField = `fragment C on Conversation { __typename id createdAt updatedAt channelID contactID kind threadID subject url
		  thumbnailURL status assigneeID aiMode lastMessageAt lastInboundAt handoffReason handedOffAt needsHuman rating
		  sentimentLabel sentimentScore contact { __typename id createdAt name username phone avatarURL externalID }
		  messages(last: 2) { totalCount edges { cursor node { ...M } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }
		  fragment M on Message { __typename id createdAt updatedAt conversationID contactID direction authorKind authorID type text
		  externalID parentExternalID replyToExternalID deliveryStatus errorCode errorMessage sentAt editedAt deletedAt rating
		  replacedByID replacedAt handoffReason sentimentLabel sentimentScore attachments { __typename } }`
		queries := []struct {
			q    string
			vars map[string]any
		}{
			{`query Inbox { conversations(first: 50, where: {status: OPEN}, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
			  edges { node { id status lastMessageAt contact { id name }
			    messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}) { edges { node { id text direction sentAt } } } } }
			  pageInfo { hasNextPage endCursor } } }`, nil},
			{`query Thread($id: ID!) { node(id: $id) { ... on Conversation {
			  messages(first: 50) { edges { node { id text direction sentAt deliveryStatus } } pageInfo { hasNextPage endCursor } } } } }`,
				map[string]any{"id": conv}},
			{`query { conversations(first: 3) { totalCount edges { cursor node { ...C } } } } ` + everyField, nil},
			// Aliases, a field twice, inline fragments, interfaces,
			// resolvers beside struct fields.
			{`query($first: Int) { a: conversations(first: $first) { edges { n: node { i: id id ... on Node { id }
			  ... on Conversation { s: status status m: messages(first: $first) { edges { node { t: text text author { __typename } isNote } } } }
			  assignedBy { __typename } } } } b: conversations(last: 1) { edges { node { id } } } }`, map[string]any{"first": 2}},
			// Errors: a malformed ID, another workspace's node.
			{`query($id: ID!) { node(id: $id) { id } conversations(first: 1) { edges { node { id } } } }`, map[string]any{"id": "nope"}},
		}
		post := func(key, q string, vars map[string]any) string {
			body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
			req, _ := http.NewRequest(http.MethodPost, b.url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return normalizedResponse(t, string(out))
		}
		defer generated.UseGqlgenPath(false)
		for _, key := range []string{b.key, otherKey} {
			for _, q := range queries {
				generated.UseGqlgenPath(false)
				fast := post(key, q.q, q.vars)
				generated.UseGqlgenPath(true)
				slow := post(key, q.q, q.vars)
				require.Equal(t, slow, fast, q.q)
				require.NotContains(t, fast, "unexpected type")
			}
		}
		generated.UseGqlgenPath(false)
		require.Contains(t, post(b.key, queries[2].q, nil), `\"\n\u003cé\u003e"`, "texts escaped as gqlgen escapes them")
	})
}

// normalizedResponse is the answer with its errors sorted (testenv.NormalizedResponse).
func normalizedResponse(t *testing.T, body string) string {
	n, err := testenv.NormalizedResponse([]byte(body))
	require.NoError(t, err)
	return n
}
