package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
)

// TestAliasedConnectionFields reads connections whose edges, node,
// pageInfo and totalCount are aliased (once, or several times with
// different selections), at the top and nested in a node, and requires
// the data of the same query without the aliases: the loading of a
// connection (what its query reads, the lookahead row, the COUNT, the
// nested page) follows the fields a client selects, whatever it calls
// them.
func TestAliasedConnectionFields(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d)
		b.seed(t, 1, 3, 2)
		const conns = `conversations(first: 2, orderBy: {field: LAST_MESSAGE_AT, direction: DESC})`
		edges := func(data map[string]any, conn, edges string) []any {
			t.Helper()
			e, ok := data[conn].(map[string]any)[edges].([]any)
			require.True(t, ok, "%s.%s: %v", conn, edges, data)
			return e
		}
		plainEdges := edges(b.post(t, b.key, `{ `+conns+` { edges { node { id } } } }`, nil), "conversations", "edges")
		require.Len(t, plainEdges, 2)

		type part struct {
			plain string
			// renames are aliases of the aliased query, each with the field
			// it aliases; drop, the aliases that are another part's.
			renames map[string]string
			drop    []string
		}
		one := func(plain string, renames map[string]string) []part { return []part{{plain: plain, renames: renames}} }
		id := plainEdges[0].(map[string]any)["node"].(map[string]any)["id"]
		cases := []struct {
			name, aliased string
			parts         []part
		}{
			{"edges and node",
				`{ c: ` + conns + ` { e: edges { n: node { id status contact { name } } } } }`,
				one(`{ c: `+conns+` { edges { node { id status contact { name } } } } }`, map[string]string{"e": "edges", "n": "node"})},
			{"node",
				`{ c: ` + conns + ` { edges { cursor n: node { id lastMessageAt } } } }`,
				one(`{ c: `+conns+` { edges { cursor node { id lastMessageAt } } } }`, map[string]string{"n": "node"})},
			{"pageInfo and totalCount with edges",
				`{ c: ` + conns + ` { tc: totalCount pi: pageInfo { hasNextPage hasPreviousPage endCursor } e: edges { node { id } } } }`,
				one(`{ c: `+conns+` { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { id } } } }`,
					map[string]string{"tc": "totalCount", "pi": "pageInfo", "e": "edges"})},
			{"pageInfo and totalCount without edges",
				`{ c: ` + conns + ` { tc: totalCount pi: pageInfo { hasNextPage hasPreviousPage } } }`,
				one(`{ c: `+conns+` { totalCount pageInfo { hasNextPage hasPreviousPage } } }`, map[string]string{"tc": "totalCount", "pi": "pageInfo"})},
			{"pageInfo alone with edges",
				`{ c: ` + conns + ` { pi: pageInfo { hasNextPage } edges { node { id } } } }`,
				one(`{ c: `+conns+` { pageInfo { hasNextPage } edges { node { id } } } }`, map[string]string{"pi": "pageInfo"})},
			{"two aliases of edges",
				`{ c: ` + conns + ` { a: edges { node { id contact { name } } } b: edges { cursor n: node { status } } } }`,
				[]part{
					{`{ c: ` + conns + ` { edges { node { id contact { name } } } } }`, map[string]string{"a": "edges"}, []string{"b"}},
					{`{ c: ` + conns + ` { edges { cursor node { status } } } }`, map[string]string{"b": "edges", "n": "node"}, []string{"a"}},
				}},
			{"two aliases of edges, the same alias inside each for different fields",
				`{ c: ` + conns + ` { a: edges { node { x: id } } b: edges { node { x: status } } } }`,
				[]part{
					{`{ c: ` + conns + ` { edges { node { id } } } }`, map[string]string{"a": "edges", "x": "id"}, []string{"b"}},
					{`{ c: ` + conns + ` { edges { node { status } } } }`, map[string]string{"b": "edges", "x": "status"}, []string{"a"}},
				}},
			{"two aliases of node",
				`{ c: ` + conns + ` { edges { a: node { id } b: node { contact { name } } } } }`,
				[]part{
					{`{ c: ` + conns + ` { edges { node { id } } } }`, map[string]string{"a": "node"}, []string{"b"}},
					{`{ c: ` + conns + ` { edges { node { contact { name } } } } }`, map[string]string{"b": "node"}, []string{"a"}},
				}},
			{"two aliases of a unique edge",
				`{ c: ` + conns + ` { edges { node { c1: contact { name } c2: contact { id } } } } }`,
				[]part{
					{`{ c: ` + conns + ` { edges { node { contact { name } } } } }`, map[string]string{"c1": "contact"}, []string{"c2"}},
					{`{ c: ` + conns + ` { edges { node { contact { id } } } } }`, map[string]string{"c2": "contact"}, []string{"c1"}},
				}},
			{"two aliases of a unique edge, under two aliases of node",
				`{ c: ` + conns + ` { edges { a: node { c1: contact { name } } b: node { c2: contact { id } } } } }`,
				[]part{
					{`{ c: ` + conns + ` { edges { node { contact { name } } } } }`, map[string]string{"a": "node", "c1": "contact"}, []string{"b"}},
					{`{ c: ` + conns + ` { edges { node { contact { id } } } } }`, map[string]string{"b": "node", "c2": "contact"}, []string{"a"}},
				}},
			{"nested connection",
				`{ c: ` + conns + ` { e: edges { n: node { id m: messages(last: 1) { me: edges { mn: node { text } } mpi: pageInfo { hasPreviousPage } mtc: totalCount } } } } }`,
				one(`{ c: `+conns+` { edges { node { id m: messages(last: 1) { edges { node { text } } pageInfo { hasPreviousPage } totalCount } } } } }`,
					map[string]string{"e": "edges", "n": "node", "me": "edges", "mn": "node", "mpi": "pageInfo", "mtc": "totalCount"})},
			{"nested connection, two aliases of its edges",
				`{ c: ` + conns + ` { edges { node { id messages(first: 2) { a: edges { node { text } } b: edges { cursor node { id } } } } } } }`,
				[]part{
					{`{ c: ` + conns + ` { edges { node { id messages(first: 2) { edges { node { text } } } } } } }`, map[string]string{"a": "edges"}, []string{"b"}},
					{`{ c: ` + conns + ` { edges { node { id messages(first: 2) { edges { cursor node { id } } } } } } }`, map[string]string{"b": "edges"}, []string{"a"}},
				}},
			{"thread",
				fmt.Sprintf(`{ node(id: %q) { ... on Conversation { m: messages(first: 5) { e: edges { n: node { id text } } p: pageInfo { hasNextPage } } } } }`, id),
				one(fmt.Sprintf(`{ node(id: %q) { ... on Conversation { m: messages(first: 5) { edges { node { id text } } pageInfo { hasNextPage } } } } }`, id),
					map[string]string{"e": "edges", "n": "node", "p": "pageInfo"})},
		}
		for _, c := range cases {
			aliased := b.post(t, b.key, c.aliased, nil)
			for i, p := range c.parts {
				plain := b.post(t, b.key, p.plain, nil)
				if strings.Contains(p.plain, "edges") {
					require.NotZero(t, nonEmptyLists(plain), "%s: the plain query reads nothing", c.name)
				}
				assert.Equal(t, plain, renameKeys(aliased, p.renames, p.drop), "%s (part %d):\n%s", c.name, i, c.aliased)
			}
		}

		// The plain queries above compare data that is right: the two
		// aliases of edges (as the plain query has them) read each
		// conversation's fields and messages.
		data := b.post(t, b.key, `{ `+conns+` { a: edges { node { contact { name } messages(last: 1) { edges { node { text } } } } } b: edges { node { status } } } }`, nil)
		got := map[string]string{}
		for _, e := range edges(data, "conversations", "a") {
			n := e.(map[string]any)["node"].(map[string]any)
			ms := n["messages"].(map[string]any)["edges"].([]any)
			require.Len(t, ms, 1)
			got[n["contact"].(map[string]any)["name"].(string)] = ms[0].(map[string]any)["node"].(map[string]any)["text"].(string)
		}
		require.Equal(t, map[string]string{"Customer cust-2": "c2 m1", "Customer cust-1": "c1 m2"}, got)
		for _, e := range edges(data, "conversations", "b") {
			require.NotEmpty(t, e.(map[string]any)["node"].(map[string]any)["status"])
		}
	})
}

// renameKeys renames the keys of the objects of v (aliases) as renames
// says, without the keys in drop.
func renameKeys(v any, renames map[string]string, drop []string) map[string]any {
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, x := range v {
				if slices.Contains(drop, k) {
					continue
				}
				if r, ok := renames[k]; ok {
					k = r
				}
				out[k] = walk(x)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i := range v {
				out[i] = walk(v[i])
			}
			return out
		}
		return v
	}
	return walk(v).(map[string]any)
}

// nonEmptyLists counts the non-empty lists in v.
func nonEmptyLists(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			n += nonEmptyLists(x)
		}
	case []any:
		if len(v) > 0 {
			n++
		}
		for _, x := range v {
			n += nonEmptyLists(x)
		}
	}
	return n
}

// TestAliasedConnectionStatements runs the inbox with its connections'
// fields aliased, and with its edges selected under two aliases, and
// requires the statements of the plain inbox: the same page, the same
// joins and per-conversation page, no COUNT, no statement per node.
func TestAliasedConnectionStatements(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, counter := storetest.OpenCounting(t, d)
		b := setupRTOn(t, s)
		b.seed(t, 2, 2, 2)
		const conns = `conversations(first: 50, orderBy: {field: LAST_MESSAGE_AT, direction: DESC})`
		const messages = `messages(first: 1, orderBy: {field: SENT_AT, direction: DESC})`
		run := func(q string) []string {
			t.Helper()
			b.post(t, b.key, q, nil) // warm: the API key's cache
			counter.Start()
			data := b.post(t, b.key, q, nil)
			stmts := storetest.WithoutWakeUps(counter.Stop())
			require.NotZero(t, nonEmptyLists(data))
			return stmts
		}
		plain := run(`{ ` + conns + ` { edges { node { id status contact { name } ` + messages + ` { edges { node { id text } } } } } pageInfo { hasNextPage } } }`)
		aliased := run(`{ ` + conns + ` { e: edges { n: node { id status contact { name } m: ` + messages + ` { me: edges { mn: node { id text } } } } } pi: pageInfo { hasNextPage } } }`)
		require.Equal(t, plain, aliased, "plain:\n%s\naliased:\n%s", storetest.Summary(plain), storetest.Summary(aliased))
		twice := run(`{ ` + conns + ` { a: edges { node { id contact { name } ` + messages + ` { edges { node { id } } } } } b: edges { node { status ` + messages + ` { edges { node { text } } } } } pageInfo { hasNextPage } } }`)
		require.Len(t, twice, len(plain), "plain:\n%s\ntwice:\n%s", storetest.Summary(plain), storetest.Summary(twice))
	})
}
