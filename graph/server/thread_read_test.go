package server

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/plugins/sdk"
)

// TestThreadPageInTheNodeStatement reads a page of a conversation's
// messages through node(id:), which reads the page in the conversation's
// own statement on PostgreSQL (sqlpage.JoinPage) and by a second one on
// SQLite: the same messages, in the same order, with the same pageInfo as
// the inbox's path (a statement for the pages of all the conversations)
// for every kind of page; a node with an empty page; never another
// workspace's conversation or messages; one statement on PostgreSQL.
func TestThreadPageInTheNodeStatement(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, counter := storetest.OpenCounting(t, d)
		b := setupRTOn(t, s)
		b.seed(t, 6)
		_, otherKey, otherCh := b.newWorkspace(t, "Other")
		b.ingest(t, otherCh, "cust-0", "other workspace", "wamid.other", sdk.ActionCreated)

		const page = `edges { cursor node { id text direction sentAt deliveryStatus } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
		inbox := b.post(t, b.key, `{ conversations(first: 1) { edges { node { id messages(first: 6) { `+page+` } } } } }`, nil)
		conv := inbox["conversations"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)
		id := conv["id"].(string)
		all := conv["messages"].(map[string]any)["edges"].([]any)
		require.Len(t, all, 6)
		cursor := func(i int) string { return all[i].(map[string]any)["cursor"].(string) }

		viaNode := func(args string) (any, []string) {
			t.Helper()
			counter.Start()
			data := b.post(t, b.key, fmt.Sprintf(`{ node(id: %q) { ... on Conversation { id messages(%s) { %s } } } }`, id, args, page), nil)
			return data["node"], storetest.WithoutWakeUps(counter.Stop())
		}
		viaInbox := func(args string) any {
			t.Helper()
			data := b.post(t, b.key, fmt.Sprintf(`{ conversations(first: 1) { edges { node { id messages(%s) { %s } } } } }`, args, page), nil)
			return data["conversations"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"]
		}
		want := 1
		if d == storetest.SQLite {
			want = 2
		}
		for _, args := range []string{
			"first: 2", "first: 10", "last: 2", "last: 1", "first: 6",
			fmt.Sprintf("first: 2, after: %q", cursor(1)),
			fmt.Sprintf("last: 2, before: %q", cursor(4)),
			"first: 3, orderBy: {field: SENT_AT, direction: DESC}",
			"last: 2, orderBy: {field: SENT_AT, direction: DESC}",
		} {
			got, stmts := viaNode(args)
			require.Equal(t, viaInbox(args), got, args)
			require.NotEmpty(t, got.(map[string]any)["messages"].(map[string]any)["edges"], args)
			require.Len(t, stmts, want, "%s: statements:\n%s", args, storetest.Summary(stmts))
		}

		// A page with no messages: the conversation is still there.
		got, _ := viaNode(fmt.Sprintf("first: 5, after: %q", cursor(5)))
		require.Equal(t, id, got.(map[string]any)["id"])
		msgs := got.(map[string]any)["messages"].(map[string]any)
		require.Empty(t, msgs["edges"])
		require.Equal(t, false, msgs["pageInfo"].(map[string]any)["hasNextPage"])

		// Another workspace's key sees neither the conversation nor its
		// messages.
		var other struct {
			Data   map[string]any
			Errors []struct{ Extensions struct{ Code string } }
		}
		b.postInto(t, otherKey, fmt.Sprintf(`{ node(id: %q) { ... on Conversation { id messages(first: 5) { %s } } } }`, id, page), nil, &other)
		require.Nil(t, other.Data["node"])
		require.Len(t, other.Errors, 1)
		require.Equal(t, "NOT_FOUND", other.Errors[0].Extensions.Code)
	})
}
