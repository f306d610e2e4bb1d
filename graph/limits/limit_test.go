package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/graph/generated"
)

var testSchema = generated.NewExecutableSchema(generated.Config{}).Schema()

var defaultLimits = OperationLimits{MaxComplexity: 50000, MaxDepth: 12, MaxAliases: 100, MaxRootMutations: 10,
	DefaultPage: 50, MaxPage: 200}

// prepare parses, validates and coerces like gqlgen before the limits run.
func prepare(t testing.TB, query, vars string) *graphql.OperationContext {
	t.Helper()
	doc, errs := gqlparser.LoadQueryWithRules(testSchema, query, rules.NewDefaultRules())
	require.Empty(t, errs, "query: %s", query)
	var raw map[string]any
	if vars != "" {
		dec := json.NewDecoder(strings.NewReader(vars))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&raw))
	}
	op := doc.Operations[0]
	coerced, err := validator.VariableValues(testSchema, op, raw)
	require.NoError(t, err)
	return &graphql.OperationContext{Doc: doc, Operation: op, Variables: coerced}
}

func costOf(t testing.TB, oc *graphql.OperationContext, l OperationLimits) (shape, *walker) {
	w := &walker{frags: oc.Doc.Fragments, vars: oc.Variables, defaultPage: int64(l.DefaultPage), maxPage: int64(l.MaxPage),
		memo: map[string]shape{}, active: map[string]bool{}}
	return w.set(oc.Operation.SelectionSet, 0), w
}

func code(err *gqlerror.Error) string {
	if err == nil {
		return ""
	}
	c, _ := err.Extensions["code"].(string)
	return c
}

func aliases(n int, field string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	return b.String()
}

func TestOperationLimits(t *testing.T) {
	const p2 = "2147483647"
	huge := defaultLimits
	huge.MaxPage = int(maxCost) // no page-size error: the cost alone must refuse
	aliased := defaultLimits
	aliased.MaxAliases = 1 << 20
	dag := "query { ...F40 } fragment F0 on Query { viewer { role } }\n"
	for i := 1; i <= 40; i++ {
		dag += fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"msg_%d"`, i)
	}
	for _, c := range []struct {
		name, query, vars string
		limits            OperationLimits
		cost              int64 // 0: not checked
		code              string
	}{
		{name: "omitted first counts the default page", query: `{ messages { edges { node { id text } } } }`, cost: 1 + 50*4},
		{name: "first", query: `{ messages(first: 10) { edges { node { id text } } } }`, cost: 1 + 10*4},
		{name: "last", query: `{ messages(last: 7) { edges { node { id text } } } }`, cost: 1 + 7*4},
		{name: "first and last: the larger", query: `{ messages(first: 3, last: 7) { edges { node { id } } } }`, cost: 1 + 7*3},
		{name: "nested default", query: `{ conversations(first: 10) { edges { node { messages { edges { node { id } } } } } } }`,
			cost: 1 + 10*(1+1+(1+50*3))},
		{name: "variables", query: `query($n: Int) { messages(first: $n) { edges { node { id } } } }`, vars: `{"n": 20}`, cost: 1 + 20*3},
		{name: "null variable is omitted", query: `query($n: Int) { messages(first: $n) { edges { node { id } } } }`, vars: `{"n": null}`, cost: 1 + 50*3},
		{name: "fragments and inline fragments", query: `{ ...Q } fragment Q on Query { messages(first: 2) { edges { node { ... on Message { id text } } } } }`, cost: 1 + 2*4},
		{name: "page over the maximum", query: `{ messages(first: 201) { edges { node { id } } } }`, code: "BAD_USER_INPUT"},
		{name: "not a cursor", query: `{ messages(after: "bm90IGEgY3Vyc29y") { edges { node { id } } } }`, code: "BAD_USER_INPUT"},
		{name: "negative page", query: `{ messages(last: -1) { edges { node { id } } } }`, code: "BAD_USER_INPUT"},
		{name: "page over the maximum in a variable", query: `query($n: Int) { messages(first: $n) { edges { node { id } } } }`, vars: `{"n": 1000}`, code: "BAD_USER_INPUT"},
		{name: "two nested 2^31-1 pages saturate instead of overflowing", limits: huge,
			query: `{ conversations(first: ` + p2 + `) { edges { node { messages(first: ` + p2 + `) { edges { node { id text } } } } } } }`,
			cost:  maxCost, code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "and are refused as page sizes", query: `{ conversations(first: ` + p2 + `) { edges { node { messages(first: ` + p2 + `) { edges { node { id } } } } } } }`,
			code: "BAD_USER_INPUT"},
		{name: "nodes counts its ids", query: `{ nodes(ids: ["msg_1", "msg_2"]) { id } }`, cost: 1 + 2*1},
		{name: "nodes over the maximum", query: `{ nodes(ids: [` + strings.Join(ids, ",") + `]) { id } }`, code: "BAD_USER_INPUT"},
		{name: "a document's chunks count as many as it may have",
			query: `{ knowledgeDocuments(first: 1) { edges { node { chunks { text } } } } }`, cost: 1 + 1*(1+1+(1+6990*1))},
		{name: "fifty documents' chunks are too many", query: `{ knowledgeDocuments { edges { node { chunks { text } } } } }`,
			code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "askKnowledgeBase is expensive", query: `{ askKnowledgeBase(question: "hi") { answer } }`, cost: 5000 + 1},
		{name: "eleven askKnowledgeBase exceed the complexity", limits: aliased,
			query: `{ ` + aliases(11, `askKnowledgeBase(question: "hi") { answer }`) + ` }`, code: "COMPLEXITY_LIMIT_EXCEEDED"},
		{name: "20,000 aliases are refused", query: `{ ` + aliases(20000, `askKnowledgeBase(question: "hi") { answer }`) + ` }`, code: "BAD_USER_INPUT"},
		{name: "100 aliases pass", query: `{ ` + aliases(100, `viewer { role }`) + ` }`, cost: 200},
		{name: "101 aliases do not", query: `{ ` + aliases(101, `viewer { role }`) + ` }`, code: "BAD_USER_INPUT"},
		{name: "ten root mutations pass", query: `mutation { ` + aliases(10, `revokeAPIKey(id: "key_1") { id }`) + ` }`, cost: 20},
		{name: "eleven do not", query: `mutation { ` + aliases(11, `revokeAPIKey(id: "key_1") { id }`) + ` }`, code: "BAD_USER_INPUT"},
		{name: "createAPIKey costs", query: `mutation { createAPIKey(input: {name: "k", role: ADMIN}) { key } }`, cost: 1001},
		{name: "too deep", query: `{ conversations(first: 1) { edges { node { messages(first: 1) { edges { node { conversation { channel { conversations(first: 1) { edges { node { contact { id } } } } } } } } } } } } }`,
			code: "BAD_USER_INPUT"},
		{name: "introspection when off", query: `{ __schema { types { name } } }`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "introspection in a fragment", query: `{ ...I } fragment I on Query { __type(name: "Message") { name } }`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "__typename is not introspection", query: `{ __typename viewer { role } }`, cost: 3},
		{name: "a fragment spread twice, forty levels down, saturates", query: dag, cost: maxCost, code: "COMPLEXITY_LIMIT_EXCEEDED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := c.limits
			if l == (OperationLimits{}) {
				l = defaultLimits
			}
			oc := prepare(t, c.query, c.vars)
			s, w := costOf(t, oc, l)
			require.GreaterOrEqual(t, s.cost, int64(0))
			require.LessOrEqual(t, s.cost, maxCost)
			require.Less(t, w.steps, 50000, "each fragment is walked once")
			if c.cost != 0 {
				require.Equal(t, c.cost, s.cost)
			}
			err := l.MutateOperationContext(context.Background(), oc)
			require.Equal(t, c.code, code(err), "error: %v", err)
		})
	}
	t.Run("introspection when on", func(t *testing.T) {
		l := defaultLimits
		l.Introspection = true
		require.Nil(t, l.MutateOperationContext(context.Background(), prepare(t, `{ __schema { types { name } } }`, "")))
	})
}

// The default page size is added to a copy: the cached document is never
// changed, and every connection of the copy, in fragments too, has a size.
func TestDefaultPagesCopyTheDocument(t *testing.T) {
	query := `query Q($c: Cursor) {
  conversations { edges { node { id ...M } } }
  b: messages(before: $c) { edges { node { id } } }
  c: messages(first: 3) { edges { node { id } } }
  channels(first: null) { totalCount }
}
fragment M on Conversation { messages { edges { node { id } } } ... on Conversation { agentRuns { totalCount } } }`
	var cursor bytes.Buffer
	ent.Cursor{ID: "msg_01"}.MarshalGQL(&cursor)
	oc := prepare(t, query, `{"c": `+cursor.String()+`}`)
	before := format(oc.Doc)
	doc, op := oc.Doc, oc.Operation
	require.Nil(t, defaultLimits.MutateOperationContext(context.Background(), oc))
	require.Equal(t, before, format(doc), "the shared document is unchanged")
	require.NotSame(t, doc, oc.Doc)
	require.NotSame(t, op, oc.Operation)
	require.Same(t, oc.Operation, oc.Doc.Operations.ForName("Q"))

	sizes := map[string]string{}
	var visit func(set ast.SelectionSet, path string)
	visit = func(set ast.SelectionSet, path string) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				p := path + "/" + s.Alias
				if s.Definition != nil && isConnection(s.Definition) {
					var got []string
					for _, a := range s.Arguments {
						if a.Name == "first" || a.Name == "last" {
							v, _ := a.Value.Value(oc.Variables)
							got = append(got, fmt.Sprintf("%s=%v", a.Name, v))
						}
					}
					sizes[p] = strings.Join(got, ",")
					// What the resolvers and ent's eager loading read.
					require.NotNil(t, s.ArgumentMap(oc.Variables)[strings.SplitN(sizes[p], "=", 2)[0]], p)
				}
				visit(s.SelectionSet, p)
			case *ast.InlineFragment:
				visit(s.SelectionSet, path)
			case *ast.FragmentSpread:
				visit(oc.Doc.Fragments.ForName(s.Name).SelectionSet, path)
			}
		}
	}
	visit(oc.Operation.SelectionSet, "")
	require.Equal(t, map[string]string{
		"/conversations":                      "first=50",
		"/conversations/edges/node/messages":  "first=50",
		"/conversations/edges/node/agentRuns": "first=50",
		"/b":                                  "last=50",
		"/c":                                  "first=3",
		"/channels":                           "first=50",
	}, sizes)

	// The same cached document again: the same answer.
	oc2 := &graphql.OperationContext{Doc: doc, Operation: op, Variables: oc.Variables}
	require.Nil(t, defaultLimits.MutateOperationContext(context.Background(), oc2))
	require.Equal(t, format(oc.Doc), format(oc2.Doc))
	require.Equal(t, before, format(doc))
}

func format(doc *ast.QueryDocument) string {
	var b bytes.Buffer
	formatter.NewFormatter(&b).FormatQueryDocument(doc)
	return b.String()
}

// The cost of two nested pages is exact below the saturation point and
// saturated above it, for any sizes.
func FuzzCostSaturates(f *testing.F) {
	for _, seed := range [][2]int64{{0, 0}, {1, 1}, {50, 200}, {2147483647, 2147483647}, {-1, 5}, {1 << 40, 3}, {1<<63 - 1, 1<<63 - 1}} {
		f.Add(seed[0], seed[1])
	}
	oc := prepare(f, `query($a: Int, $b: Int) { conversations(first: $a) { edges { node { messages(last: $b) { edges { node { id text } } } } } } }`, "")
	l := defaultLimits
	l.MaxPage = int(maxCost)
	f.Fuzz(func(t *testing.T, a, b int64) {
		oc.Variables = map[string]any{"a": a, "b": b}
		s, _ := costOf(t, oc, l)
		clamp := func(n int64) *big.Int { return big.NewInt(min(max(n, 0), maxCost)) }
		// conversations: 1 + a*(edges 1 + node 1 + messages (1 + b*(edges 1 + node 1 + id 1 + text 1)))
		want := new(big.Int).Mul(clamp(b), big.NewInt(4))
		want.Add(want, big.NewInt(3))
		want.Mul(want, clamp(a))
		want.Add(want, big.NewInt(1))
		if want.Cmp(big.NewInt(maxCost)) > 0 {
			want = big.NewInt(maxCost)
		}
		require.Equal(t, want.Int64(), s.cost, "a=%d b=%d", a, b)
	})
}

// Any valid operation: the walker ends, its numbers stay in range, and the
// default pages never touch the original document.
func FuzzOperationLimits(f *testing.F) {
	for _, seed := range []string{
		`{ messages { edges { node { id text } } } }`,
		`{ conversations(first: 2) { edges { node { messages(last: 3) { totalCount edges { node { id } } } } } } }`,
		`query { ...A } fragment A on Query { viewer { role } channels { edges { node { ...B } } } } fragment B on Channel { conversations { totalCount } }`,
		`{ a: askKnowledgeBase(question: "x") { answer } b: viewer { workspace { id } } }`,
		`mutation { createAPIKey(input: {name: "a", role: OWNER}) { key apiKey { id } } }`,
		`{ nodes(ids: ["a", "b"]) { id ... on Message { conversation { messages { edges { cursor } } } } } }`,
		`{ __type(name: "Query") { name } }`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		doc, errs := gqlparser.LoadQueryWithRules(testSchema, query, rules.NewDefaultRules())
		if len(errs) > 0 || len(doc.Operations) != 1 {
			return
		}
		op := doc.Operations[0]
		vars, err := validator.VariableValues(testSchema, op, nil)
		if err != nil {
			return
		}
		oc := &graphql.OperationContext{Doc: doc, Operation: op, Variables: vars}
		before := format(doc)
		s, w := costOf(t, oc, defaultLimits)
		require.GreaterOrEqual(t, s.cost, int64(0))
		require.LessOrEqual(t, s.cost, maxCost)
		require.GreaterOrEqual(t, s.aliases, int64(0))
		require.LessOrEqual(t, w.steps, len(query)+1, "the walk is linear in the document")
		_ = defaultLimits.MutateOperationContext(context.Background(), oc)
		require.Equal(t, before, format(doc))
	})
}
