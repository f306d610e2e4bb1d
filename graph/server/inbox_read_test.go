package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// TestInboxPageOfMessagesPerConversation reads a page of each
// conversation's messages inside the inbox (one statement for all the
// conversations: a LATERAL join on PostgreSQL, a correlated subquery on
// SQLite): the right messages for each, in order, filtered, never another
// workspace's, with pageInfo from the page itself.
func TestInboxPageOfMessagesPerConversation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d)
		// Three conversations with 1, 3 and 5 messages; another workspace's
		// conversation with the same customer IDs.
		b.seed(t, 1, 3, 5)
		_, otherKey, otherCh := b.newWorkspace(t, "Other")
		b.ingest(t, otherCh, "cust-2", "other workspace", "wamid.other", sdk.ActionCreated)

		const q = `query($first: Int, $last: Int) { conversations(first: 10, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
		  edges { node { contact { name } messages(first: $first, last: $last) {
		    edges { node { text } } pageInfo { hasNextPage hasPreviousPage } } } } } }`
		texts := func(data map[string]any) map[string][]string {
			out := map[string][]string{}
			for _, e := range data["conversations"].(map[string]any)["edges"].([]any) {
				node := e.(map[string]any)["node"].(map[string]any)
				name := node["contact"].(map[string]any)["name"].(string)
				out[name] = []string{}
				for _, m := range node["messages"].(map[string]any)["edges"].([]any) {
					out[name] = append(out[name], m.(map[string]any)["node"].(map[string]any)["text"].(string))
				}
				pi := node["messages"].(map[string]any)["pageInfo"].(map[string]any)
				out[name+" pageInfo"] = []string{fmt.Sprint(pi["hasNextPage"]), fmt.Sprint(pi["hasPreviousPage"])}
			}
			return out
		}

		last1 := texts(b.post(t, b.key, q, map[string]any{"last": 1}))
		require.Equal(t, map[string][]string{
			"Customer cust-0": {"c0 m0"}, "Customer cust-0 pageInfo": {"false", "false"},
			"Customer cust-1": {"c1 m2"}, "Customer cust-1 pageInfo": {"false", "true"},
			"Customer cust-2": {"c2 m4"}, "Customer cust-2 pageInfo": {"false", "true"},
		}, last1)

		first2 := texts(b.post(t, b.key, q, map[string]any{"first": 2}))
		require.Equal(t, map[string][]string{
			"Customer cust-0": {"c0 m0"}, "Customer cust-0 pageInfo": {"false", "false"},
			"Customer cust-1": {"c1 m0", "c1 m1"}, "Customer cust-1 pageInfo": {"true", "false"},
			"Customer cust-2": {"c2 m0", "c2 m1"}, "Customer cust-2 pageInfo": {"true", "false"},
		}, first2)

		// The last message by sent time, newest first, as the inbox asks.
		const inbox = `{ conversations(first: 10) { edges { node { contact { name }
		  messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}, where: {textContains: "m1"}) { edges { node { text } } } } } } }`
		data := b.post(t, b.key, inbox, nil)
		got := map[string]string{}
		for _, e := range data["conversations"].(map[string]any)["edges"].([]any) {
			node := e.(map[string]any)["node"].(map[string]any)
			var text string
			if ms := node["messages"].(map[string]any)["edges"].([]any); len(ms) > 0 {
				text = ms[0].(map[string]any)["node"].(map[string]any)["text"].(string)
			}
			got[node["contact"].(map[string]any)["name"].(string)] = text
		}
		require.Equal(t, map[string]string{"Customer cust-0": "", "Customer cust-1": "c1 m1", "Customer cust-2": "c2 m1"}, got)

		// totalCount still counts every message of the conversation.
		data = b.post(t, b.key, `{ conversations(first: 10) { totalCount pageInfo { hasNextPage }
		  edges { node { messages(last: 1) { totalCount } } } } }`, nil)
		conns := data["conversations"].(map[string]any)
		require.EqualValues(t, 3, conns["totalCount"])
		var counts []float64
		for _, e := range conns["edges"].([]any) {
			counts = append(counts, e.(map[string]any)["node"].(map[string]any)["messages"].(map[string]any)["totalCount"].(float64))
		}
		require.ElementsMatch(t, []float64{1, 3, 5}, counts)

		// The other workspace sees its own conversation only.
		other := texts(b.post(t, otherKey, q, map[string]any{"last": 1}))
		require.Equal(t, map[string][]string{"Customer cust-2": {"other workspace"}, "Customer cust-2 pageInfo": {"false", "false"}}, other)
	})
}

// TestInboxStatements counts the SQL statements of the inbox list: the
// conversations page with each conversation's contact (a LEFT JOIN in the
// page's own statement on PostgreSQL, the contact's tenant filter in its
// ON clause) and
// one statement for every conversation's last message, whatever the page
// size; the COUNT only when totalCount is asked for. The contact of
// another workspace is never read through the join.
func TestInboxStatements(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, counter := storetest.OpenCounting(t, d)
		b := setupRTOn(t, s)
		b.seed(t, 2, 2, 2, 2)
		const inbox = `{ conversations(first: 50, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
		  edges { cursor node { id status lastMessageAt contact { id name }
		    messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}) { edges { node { id text direction sentAt } } } } }
		  %s } }`
		b.post(t, b.key, fmt.Sprintf(inbox, ""), nil) // warm: the API key's cache
		count := func(extra string) (map[string]any, []string) {
			t.Helper()
			counter.Start()
			data := b.post(t, b.key, fmt.Sprintf(inbox, extra), nil)
			return data, storetest.WithoutWakeUps(counter.Stop())
		}

		// PostgreSQL reads the contact in the page's statement; SQLite, in
		// the process, still eager-loads it (sqlpage.JoinsUnique).
		want := 2
		if d == storetest.SQLite {
			want = 3
		}
		data, stmts := count("")
		require.LessOrEqual(t, len(stmts), want, "statements:\n%s", storetest.Summary(stmts))
		edges := data["conversations"].(map[string]any)["edges"].([]any)
		require.Len(t, edges, 4)
		for _, e := range edges {
			node := e.(map[string]any)["node"].(map[string]any)
			name := node["contact"].(map[string]any)["name"].(string)
			require.Regexp(t, `^Customer cust-\d$`, name)
			ms := node["messages"].(map[string]any)["edges"].([]any)
			require.Len(t, ms, 1)
			require.Equal(t, strings.Replace(name, "Customer cust-", "c", 1)+" m1", ms[0].(map[string]any)["node"].(map[string]any)["text"])
		}

		_, stmts = count("pageInfo { hasNextPage endCursor }")
		require.LessOrEqual(t, len(stmts), want, "pageInfo needs no COUNT; statements:\n%s", storetest.Summary(stmts))
		data, stmts = count("totalCount")
		require.LessOrEqual(t, len(stmts), want+1, "statements:\n%s", storetest.Summary(stmts))
		require.EqualValues(t, 4, data["conversations"].(map[string]any)["totalCount"])

		// Cursors and orders are qualified: the page after a cursor, in
		// each order, reads the rest with their contacts.
		for _, order := range []string{"", `, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}`, `, orderBy: {field: STATUS}`} {
			page := func(after any) map[string]any {
				return b.post(t, b.key, `query($after: Cursor) { conversations(first: 3, after: $after`+order+`) {
				  edges { node { id contact { name } } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})["conversations"].(map[string]any)
			}
			first := page(nil)
			require.Equal(t, true, first["pageInfo"].(map[string]any)["hasNextPage"])
			rest := page(first["pageInfo"].(map[string]any)["endCursor"])
			require.Equal(t, false, rest["pageInfo"].(map[string]any)["hasNextPage"])
			seen := map[string]bool{}
			for _, e := range append(first["edges"].([]any), rest["edges"].([]any)...) {
				node := e.(map[string]any)["node"].(map[string]any)
				seen[node["id"].(string)] = true
				require.Regexp(t, `^Customer cust-\d$`, node["contact"].(map[string]any)["name"])
			}
			require.Len(t, seen, 4, "order %q", order)
		}

		// A conversation whose contact row belongs to another workspace (not
		// possible through the API; written here as a platform viewer):
		// the join's tenant filter leaves the contact out.
		_, _, otherCh := b.newWorkspace(t, "Other")
		b.ingest(t, otherCh, "cust-x", "other", "wamid.x", sdk.ActionCreated)
		platform := tenant.NewContext(context.Background(), tenant.PlatformViewer("test"))
		foreign, err := s.Ent.Contact.Query().Where(contact.ExternalID("cust-x")).Only(platform)
		require.NoError(t, err)
		conv, err := s.Ent.Conversation.Query().Where(conversation.WorkspaceID(pulid.ID(b.ws))).First(platform)
		require.NoError(t, err)
		require.NoError(t, s.Ent.Conversation.UpdateOne(conv).SetContactID(foreign.ID).Exec(platform))
		data, _ = count("")
		var nilContacts int
		for _, e := range data["conversations"].(map[string]any)["edges"].([]any) {
			node := e.(map[string]any)["node"].(map[string]any)
			if node["contact"] == nil {
				nilContacts++
				require.Equal(t, string(conv.ID), node["id"])
			} else {
				require.NotEqual(t, "Customer cust-x", node["contact"].(map[string]any)["name"])
			}
		}
		require.Equal(t, 1, nilContacts)
	})
}
