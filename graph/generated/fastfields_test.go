package generated

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/testenv"
)

// nodeResolvers answers Query.node from a map; every other resolver is
// nil (the queries below select none).
type nodeResolvers struct {
	ResolverRoot
	nodes map[pulid.ID]ent.Noder
}

func (r nodeResolvers) Query() QueryResolver { return nodeQuery{nodes: r.nodes} }

type nodeQuery struct {
	QueryResolver
	nodes map[pulid.ID]ent.Noder
}

func (q nodeQuery) Node(_ context.Context, id pulid.ID) (ent.Noder, error) { return q.nodes[id], nil }

// Conversations returns the conversations of nodes, and a nil node.
func (q nodeQuery) Conversations(context.Context, *entgql.Cursor[pulid.ID], *int, *entgql.Cursor[pulid.ID], *int,
	*ent.ConversationOrder, *ent.ConversationWhereInput) (*ent.ConversationConnection, error) {
	c := &ent.ConversationConnection{TotalCount: 3}
	for _, id := range []pulid.ID{"CV01", "CV02"} {
		c.Edges = append(c.Edges, &ent.ConversationEdge{Node: q.nodes[id].(*ent.Conversation), Cursor: entgql.Cursor[pulid.ID]{ID: id}})
	}
	c.Edges = append(c.Edges, &ent.ConversationEdge{})
	end := entgql.Cursor[pulid.ID]{ID: "CV02"}
	c.PageInfo.HasNextPage, c.PageInfo.EndCursor = true, &end
	return c, nil
}

// TestFastFieldsSameResponses runs queries over in-memory entities on
// both paths (fast paths for plain struct fields, and gqlgen's for every
// field) and requires the same response, byte for byte: values, nulls
// (nil pointers), enums, times, IDs, aliases, repeated fields, fragments,
// __typename, and a non-null time left zero, which gqlgen reports as an
// error with the field's path and propagates as null to the parent.
func TestFastFieldsSameResponses(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 4, 5, 600, time.UTC)
	later := at.Add(time.Hour)
	contact := pulid.ID("CT01")
	label := message.SentimentLabelNegative
	convLabel := conversation.SentimentLabelPositive
	mode := conversation.AiModeOff
	rating, score, ext := 4, 0.25, "ext-1"
	nodes := map[pulid.ID]ent.Noder{
		"MS01": &ent.Message{ID: "MS01", CreatedAt: at, UpdatedAt: later, ConversationID: "CV01", ContactID: &contact,
			Direction: message.DirectionInbound, AuthorKind: message.AuthorKindContact, AuthorID: "a\"uthor\n", Type: "text",
			Text: "héllo \u2028 <b>\"world\"</b>", ExternalID: &ext, DeliveryStatus: message.DeliveryStatusDelivered, SentAt: at,
			EditedAt: &later, Rating: &rating, SentimentLabel: &label, SentimentScore: &score},
		// Zero values throughout: nil pointers, empty strings and enums,
		// zero (so null) times in non-null fields.
		"MS02": &ent.Message{ID: "MS02"},
		"CV01": &ent.Conversation{ID: "CV01", CreatedAt: at, UpdatedAt: at, ChannelID: "CH01", ContactID: &contact,
			Kind: conversation.KindDirectMessage, ThreadID: "t1", Subject: "", Status: conversation.StatusOpen, AiMode: &mode,
			LastMessageAt: later, LastInboundAt: &at, NeedsHuman: true, Rating: &rating, SentimentLabel: &convLabel},
		"CV02": &ent.Conversation{ID: "CV02", LastMessageAt: at},
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: nodeResolvers{nodes: nodes}}))
	srv.AddTransport(transport.POST{})
	post := func(q string) string {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w.Body.String()
	}
	const message = `__typename id createdAt updatedAt conversationID contactID direction authorKind authorID type text externalID
	  parentExternalID replyToExternalID deliveryStatus errorCode errorMessage sentAt editedAt deletedAt rating replacedByID
	  replacedAt handoffReason sentimentLabel sentimentScore`
	const conv = `__typename id createdAt updatedAt channelID contactID kind threadID subject url thumbnailURL status assigneeID
	  aiMode lastMessageAt lastInboundAt handoffReason handedOffAt needsHuman rating sentimentLabel sentimentScore`
	queries := []string{
		`{ a: node(id: "MS01") { ... on Message { ` + message + ` } } b: node(id: "CV01") { ... on Conversation { ` + conv + ` } } }`,
		// Non-null times left zero: errors on their paths, nodes nulled.
		`{ a: node(id: "MS02") { ... on Message { ` + message + ` } } b: node(id: "CV02") { ... on Conversation { ` + conv + ` } } }`,
		`{ node(id: "CV02") { ... on Conversation { id t: createdAt status lastMessageAt } } }`,
		// Aliases, a field twice, named and inline fragments, __typename.
		`query { x: node(id: "MS01") { __typename ...M ... on Message { t: text text id i: id } }
		  y: node(id: "CV01") { id ... on Conversation { s: status s2: status lastMessageAt } } }
		  fragment M on Message { text sentAt direction d: deliveryStatus }`,
		`{ node(id: "MS01") { ... on Conversation { id } ... on Message { id sentAt } } }`,
		`{ missing: node(id: "NOPE") { id } }`,
		// Struct fields of object, list and object value types (edges,
		// node, pageInfo), a nil node, an error in a node.
		`{ conversations { totalCount edges { cursor node { id status t: createdAt } }
		  pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
		`{ conversations { edges { node { __typename id lastMessageAt } c: cursor } p: pageInfo { endCursor } } }`,
	}
	defer UseGqlgenPath(false)
	for _, q := range queries {
		q = `{"query": ` + quote(q) + `}`
		UseGqlgenPath(false)
		fast := post(q)
		UseGqlgenPath(true)
		slow := post(q)
		require.Equal(t, normalized(t, slow), normalized(t, fast), q)
		require.NotContains(t, fast, `"unexpected type`)
	}
	// The zero-time case did report its error (on both, by the above).
	UseGqlgenPath(false)
	require.Contains(t, post(`{"query": `+quote(queries[2])+`}`), `"path":["node","t"]`)
	// And the fast paths were taken: the same response for fewer
	// allocations.
	q := `{"query": ` + quote(queries[0]) + `}`
	fast := testing.AllocsPerRun(20, func() { post(q) })
	UseGqlgenPath(true)
	slow := testing.AllocsPerRun(20, func() { post(q) })
	require.Less(t, fast, slow-200, "allocations per request, fast paths against gqlgen's")
	q = `{"query": ` + quote(queries[len(queries)-1]) + `}`
	UseGqlgenPath(false)
	fast = testing.AllocsPerRun(20, func() { post(q) })
	UseGqlgenPath(true)
	slow = testing.AllocsPerRun(20, func() { post(q) })
	require.Less(t, fast, slow-10, "allocations per request, fast paths against gqlgen's")
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// normalized is the answer with its errors sorted (testenv.NormalizedResponse).
func normalized(t *testing.T, body string) string {
	n, err := testenv.NormalizedResponse([]byte(body))
	require.NoError(t, err)
	return n
}
