package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/graph"
	"github.com/neksio/neksio/graph/model"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

// limitBundle is a GraphQL server with its options and its log in a buffer.
type limitBundle struct {
	*rtBundle
	logs *testenv.LogBuffer
}

func setupLimits(t *testing.T, d storetest.Dialect, deps func(*graph.Deps), opts func(*Options)) *limitBundle {
	t.Helper()
	s := storetest.Open(t, d)
	lb := &limitBundle{rtBundle: &rtBundle{store: s, inbox: &inbox.Service{Store: s}, auth: &auth.Service{Store: s}}, logs: &testenv.LogBuffer{}}
	dp := graph.Deps{Store: s, Auth: lb.auth, Inbox: lb.inbox}
	if deps != nil {
		deps(&dp)
	}
	o := Options{Logger: slog.New(slog.NewTextHandler(lb.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if opts != nil {
		opts(&o)
	}
	lb.server = New(dp, o)
	lb.http = httptest.NewServer(lb.server)
	t.Cleanup(lb.http.Close)
	lb.url = lb.http.URL + "/graphql"
	lb.ws, lb.key, lb.channel = lb.newWorkspace(t, "Acme")
	return lb
}

type answer struct {
	Status int
	Header http.Header
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw string
}

func (a answer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	c, _ := a.Errors[0].Extensions["code"].(string)
	return c
}

func (b *limitBundle) send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	require.NoError(t, json.Unmarshal(raw, &a), "body: %.300s", raw)
	return a
}

func (b *limitBundle) postRaw(t *testing.T, key string, body []byte) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return b.send(t, req)
}

func (b *limitBundle) query(t *testing.T, query string, vars map[string]any) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b.postRaw(t, b.key, body)
}

// seed stores n messages of one customer (one conversation).
func (b *limitBundle) seed(t *testing.T, n int) {
	t.Helper()
	ctx := tenant.NewContext(context.Background(), tenant.System(b.ws, "test"))
	evs := make([]*sdk.Event, n)
	for i := range evs {
		evs[i] = &sdk.Event{Kind: sdk.EventMessage, Platform: "whatsapp", AccountID: b.channel.ExternalID,
			Message: &sdk.Message{ExternalID: fmt.Sprint("m", i), Direction: sdk.Inbound, ThreadKind: sdk.ThreadDirect,
				ThreadID: "cust", Contact: sdk.Contact{ExternalID: "cust", Name: "C"}, Type: "text", Text: fmt.Sprint("hello ", i)}}
	}
	require.NoError(t, b.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := b.inbox.Ingest(ctx, tx, b.channel, evs)
		return err
	}))
}

func randomKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return "nks_" + base64.RawURLEncoding.EncodeToString(k)
}

// Item 1: a connection asked for without first or last returns a page of
// the default size, nested connections included, and ent loads no more
// than that page from the database.
func TestConnectionsHaveADefaultPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupLimits(t, d, nil, func(o *Options) { o.DefaultPageSize, o.MaxPageSize = 20, 30 })
		b.seed(t, 45)
		var loaded atomic.Int64
		b.store.Ent.Message.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				v, err := next.Query(ctx, q)
				if ms, ok := v.([]*ent.Message); ok {
					loaded.Add(int64(len(ms)))
				}
				return v, err
			})
		}))
		for range 2 { // the second time from the parsed-query cache
			a := b.query(t, `{ messages { totalCount edges { node { id text } } } }`, nil)
			require.Empty(t, a.Errors)
			require.Len(t, dig(a.Data, "messages", "edges"), 20)
			require.EqualValues(t, 45, dig(a.Data, "messages", "totalCount"))
		}

		loaded.Store(0)
		a := b.query(t, `{ conversations { edges { node { messages { edges { node { id } } pageInfo { hasNextPage } } } } } }`, nil)
		require.Empty(t, a.Errors)
		conv := dig(a.Data, "conversations", "edges").([]any)
		require.Len(t, conv, 1)
		require.Len(t, dig(conv[0], "node", "messages", "edges"), 20)
		require.Equal(t, true, dig(conv[0], "node", "messages", "pageInfo", "hasNextPage"))
		require.LessOrEqual(t, loaded.Load(), int64(21), "the eager load asks for one page (and one more row to know there is a next)")

		// Paging on from the cursor: the default applies after a cursor too.
		a = b.query(t, `{ messages(first: 20) { pageInfo { endCursor } } }`, nil)
		cursor := dig(a.Data, "messages", "pageInfo", "endCursor")
		a = b.query(t, `query($c: Cursor) { messages(after: $c) { edges { node { id } } } }`, map[string]any{"c": cursor})
		require.Empty(t, a.Errors)
		require.Len(t, dig(a.Data, "messages", "edges"), 20)

		a = b.query(t, `{ messages(first: 31) { edges { node { id } } } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", a.code())
		require.Equal(t, http.StatusUnprocessableEntity, a.Status, "refused before anything ran")
		require.Nil(t, a.Data["messages"])
		a = b.query(t, `query($n: Int) { conversations(first: 1) { edges { node { messages(last: $n) { edges { node { id } } } } } } }`, map[string]any{"n": 100})
		require.Equal(t, "BAD_USER_INPUT", a.code())
	})
}

// Item 2: the resolvers of one operation run at most ResolverConcurrency
// at once, and once the request's deadline has passed nothing more is
// resolved.
func TestOperationResolverBudget(t *testing.T) {
	var inflight, peak, calls atomic.Int64
	var block atomic.Bool
	connectors := func() []*model.ConnectorInfo {
		calls.Add(1)
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if block.Load() {
			time.Sleep(time.Second) // past the request's deadline
		} else {
			time.Sleep(20 * time.Millisecond) // long enough for the others to start, were they allowed to
		}
		return []*model.ConnectorInfo{}
	}
	b := setupLimits(t, storetest.SQLite, func(d *graph.Deps) { d.Connectors = connectors }, func(o *Options) { o.ResolverConcurrency = 2 })
	a := b.query(t, `{ `+aliases(12, "connectors { name }")+` }`, nil)
	require.Empty(t, a.Errors)
	require.EqualValues(t, 12, calls.Load())
	require.EqualValues(t, 2, peak.Load(), "at most two resolvers at once")

	b = setupLimits(t, storetest.SQLite, func(d *graph.Deps) { d.Connectors = connectors },
		func(o *Options) { o.ResolverConcurrency = 1; o.RequestTimeout = 200 * time.Millisecond })
	calls.Store(0)
	block.Store(true)
	a = b.query(t, `{ `+aliases(12, "connectors { name }")+` }`, nil)
	require.EqualValues(t, 1, calls.Load(), "the first resolver outlived the request: no other ran")
	require.Len(t, a.Errors, 11)
	for _, e := range a.Errors {
		require.Equal(t, "UNAVAILABLE", e.Extensions["code"])
	}
	require.NotContains(t, b.logs.String(), "level=ERROR", "a timeout is not an internal error")
}

func TestKeyedLimit(t *testing.T) {
	k := newKeyedLimit(1)
	ctx := context.Background()
	relA, err := k.acquire(ctx, "ws_a")
	require.NoError(t, err)
	relB, err := k.acquire(ctx, "ws_b")
	require.NoError(t, err, "another workspace has its own slots")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = k.acquire(short, "ws_a")
	require.ErrorIs(t, err, context.DeadlineExceeded, "ws_a's only slot is taken")
	relA()
	relA2, err := k.acquire(ctx, "ws_a")
	require.NoError(t, err)
	relA2()
	relB()
	require.Zero(t, k.size(), "idle workspaces are forgotten")
}

// Item 3: JSON bodies over MaxBodyBytes and uploads over MaxUploadBytes
// are answered 413 with a GraphQL-shaped error, whether or not they
// announce their length.
func TestBodyLimits(t *testing.T) {
	b := setupLimits(t, storetest.SQLite, nil, func(o *Options) { o.MaxBodyBytes = 64 << 10; o.MaxUploadBytes = 128 << 10 })
	big := []byte(`{"query":"{ viewer { role } }","variables":{"x":"` + strings.Repeat("a", 100<<10) + `"}}`)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, b.url, body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+b.key)
		a := b.send(t, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, a.Status, "chunked=%v", chunked)
		require.Equal(t, "REQUEST_TOO_LARGE", a.code())
	}
	// Under the limit: answered.
	a := b.query(t, `query($x: String) { messages(first: 1, where: {textContains: $x}) { totalCount } }`, map[string]any{"x": strings.Repeat("a", 60<<10)})
	require.Empty(t, a.Errors)

	upload := func(size int, chunked bool) answer {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("operations", `{"query":"{ viewer { role } }"}`)
		_ = mw.WriteField("map", `{"0":["variables.file"]}`)
		fw, _ := mw.CreateFormFile("0", "faq.md")
		_, _ = fw.Write(bytes.Repeat([]byte("x"), size))
		_ = mw.Close()
		var body io.Reader = &buf
		if chunked {
			body = io.MultiReader(body)
		}
		req, _ := http.NewRequest(http.MethodPost, b.url, body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+b.key)
		return b.send(t, req)
	}
	for _, chunked := range []bool{false, true} {
		a := upload(200<<10, chunked)
		require.Equal(t, http.StatusRequestEntityTooLarge, a.Status, "chunked=%v: %s", chunked, a.Raw)
		require.Equal(t, "REQUEST_TOO_LARGE", a.code())
		a = upload(10<<10, chunked)
		require.NotEqual(t, http.StatusRequestEntityTooLarge, a.Status)
	}
}

// Item 4: random keys from one address cost a database lookup each only
// until the address has failed AuthFailuresPerMinute times; then it is
// refused without one. Keys that authenticated before keep working from
// that address, other addresses are not affected, and X-Forwarded-For is
// only believed from a trusted proxy.
func TestFailedAuthenticationThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupLimits(t, d, nil, func(o *Options) { o.AuthFailuresPerMinute = 5; o.TrustedProxies = []string{"127.0.0.1", "::1"} })
		var lookups atomic.Int64
		b.store.Ent.APIKey.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				lookups.Add(1)
				return next.Query(ctx, q)
			})
		}))
		from := func(key, addr string) answer {
			req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader(`{"query":"{ viewer { role } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			if addr != "" {
				req.Header.Set("X-Forwarded-For", addr)
			}
			return b.send(t, req)
		}
		require.Empty(t, from(b.key, "198.51.100.7").Errors, "the owner key, known from now on")

		statuses := map[int]int{}
		lookups.Store(0)
		for range 100 {
			a := from(randomKey(), "198.51.100.7")
			statuses[a.Status]++
			if a.Status == http.StatusTooManyRequests {
				require.Equal(t, "RATE_LIMITED", a.code())
				require.NotEmpty(t, a.Header.Get("Retry-After"))
			}
		}
		require.Equal(t, map[int]int{http.StatusUnauthorized: 5, http.StatusTooManyRequests: 95}, statuses)
		require.EqualValues(t, 5, lookups.Load(), "100 random keys, 5 lookups")

		require.Empty(t, from(b.key, "198.51.100.7").Errors, "a key that authenticated before still works from the throttled address")
		require.Equal(t, http.StatusUnauthorized, from(randomKey(), "198.51.100.8").Status, "another address has its own budget")
		require.Equal(t, http.StatusUnauthorized, from(randomKey(), "2001:db8:1::1").Status)
		require.Equal(t, http.StatusTooManyRequests, from(randomKey(), "10.0.0.1, 198.51.100.7").Status,
			"the rightmost untrusted address counts, not what the client prepends")

		// A WebSocket from the throttled address is refused before its key is looked up.
		lookups.Store(0)
		hdr := http.Header{"X-Forwarded-For": {"198.51.100.7"}}
		c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(b.url, "http"),
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: hdr})
		require.NoError(t, err)
		defer c.CloseNow()
		ws := &wsClient{t: t, c: c, proto: "graphql-transport-ws"}
		ws.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + randomKey()}})
		ws.expectClose(closeTryAgain)
		require.Zero(t, lookups.Load())
	})
	t.Run("without trusted proxies X-Forwarded-For is ignored", func(t *testing.T) {
		b := setupLimits(t, storetest.SQLite, nil, func(o *Options) { o.AuthFailuresPerMinute = 2 })
		codes := []int{}
		for i := range 4 {
			req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader(`{"query":"{ viewer { role } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+randomKey())
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
			codes = append(codes, b.send(t, req).Status)
		}
		require.Equal(t, []int{401, 401, 429, 429}, codes)
	})
}

// Item 5: a client's mistakes are 4xx with a precise code, and nothing of
// the body — secrets included — reaches the log.
func TestClientMistakes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupLimits(t, d, nil, func(o *Options) { o.MaxBodyBytes = 256 << 10 })
		const secret = "SECRET-7c1d9e"
		cases := []struct {
			name   string
			body   string
			status int
			code   string
		}{
			{"malformed JSON", `{"query":"mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }","variables":{"in":{"credentials":{"accessToken":"` + secret + `"}},}}`,
				400, "BAD_REQUEST"},
			{"truncated JSON", `{"query":"{ viewer { role } }","variables":{"accessToken":"` + secret, 400, "BAD_REQUEST"},
			{"wrong types", `{"query":{"accessToken":"` + secret + `"}}`, 400, "BAD_REQUEST"},
			{"batched", `[{"query":"{ viewer { role } }","variables":{"accessToken":"` + secret + `"}}]`, 400, "BAD_REQUEST"},
			{"NUL in a variable", `{"query":"query($t: String) { messages(where: {textContains: $t}) { edges { node { id } } } }","variables":{"t":"a\u0000` + secret + `"}}`,
				400, "BAD_REQUEST"},
			{"too large", `{"query":"{ viewer { role } }","variables":{"accessToken":"` + secret + strings.Repeat("x", 300<<10) + `"}}`,
				413, "REQUEST_TOO_LARGE"},
			{"bad cursor", `{"query":"query($c: Cursor) { messages(after: $c) { edges { node { id } } } }","variables":{"c":"` + secret + `"}}`,
				422, "BAD_USER_INPUT"},
			{"bad ID", `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":"` + secret + `"}}`,
				200, "NOT_FOUND"},
			{"bad cursor, nested", `{"query":"{ conversations(first: 1) { edges { node { messages(before: \"` + secret + `\") { edges { node { id } } } } } } }"}`,
				422, "BAD_USER_INPUT"},
			{"bad time", `{"query":"query($t: Time) { messages(where: {createdAtGT: $t}) { totalCount } }","variables":{"t":"` + secret + `"}}`,
				200, "BAD_USER_INPUT"},
			{"introspection when off", `{"query":"{ __schema { types { name } } }","variables":{"accessToken":"` + secret + `"}}`,
				422, "GRAPHQL_VALIDATION_FAILED"},
			{"parse error", `{"query":"{ viewer { role ` + secret + `","variables":{}}`, 422, "GRAPHQL_PARSE_FAILED"},
		}
		b.seed(t, 1)
		for _, c := range cases {
			a := b.postRaw(t, b.key, []byte(c.body))
			require.Equal(t, c.status, a.Status, "%s: %s", c.name, a.Raw)
			require.Equal(t, c.code, a.code(), "%s: %s", c.name, a.Raw)
			if c.status != 200 {
				require.NotContains(t, a.Raw, secret, "%s: the answer does not echo the body", c.name)
			}
		}
		// Over GET and WebSocket too, NUL characters are refused before the database.
		q := url.Values{"query": {"query($t: String) { messages(where: {textContains: $t}) { edges { node { id } } } }"},
			"variables": {`{"t":"a\u0000b"}`}}
		req, _ := http.NewRequest(http.MethodGet, b.url+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+b.key)
		a := b.send(t, req)
		require.Equal(t, http.StatusUnprocessableEntity, a.Status, a.Raw)
		require.Equal(t, "BAD_REQUEST", a.code())

		logs := b.logs.String()
		require.NotContains(t, logs, secret)
		require.NotContains(t, logs, "level=ERROR", "client mistakes are not errors of the server")
	})
}

// A query of more tokens than any real operation is refused by the parser,
// before validation spends time on it.
func TestParserTokenLimit(t *testing.T) {
	b := setupLimits(t, storetest.SQLite, nil, nil)
	a := b.query(t, `{ `+aliases(15000, "viewer { role }")+` }`, nil)
	require.Equal(t, http.StatusUnprocessableEntity, a.Status)
	require.Equal(t, "GRAPHQL_PARSE_FAILED", a.code())
	a = b.query(t, `{ `+aliases(100, "viewer { role }")+` }`, nil)
	require.Empty(t, a.Errors)
}

// aliases repeats field under n aliases (a0, a1, …).
func aliases(n int, field string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	return b.String()
}
