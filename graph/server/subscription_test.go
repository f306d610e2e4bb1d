package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/team"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/graph"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

func TestMain(m *testing.M) {
	keyCheckInterval = 50 * time.Millisecond
	// IgnoreCurrent: dependencies start pools in their init functions.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

const wait = 20 * time.Second // generous: a bound for a hang, not a timing assertion

// rtBundle is a GraphQL server on an httptest server, with one workspace,
// a channel and an owner key.
type rtBundle struct {
	store   *store.Store
	server  *Server
	http    *httptest.Server
	url     string
	inbox   *inbox.Service
	auth    *auth.Service
	team    *team.Service
	ws      string
	key     string
	channel *ent.Channel
}

type rtOption func(*graph.RealtimeOptions, *bool)

func withRealtime(f func(*graph.RealtimeOptions)) rtOption {
	return func(o *graph.RealtimeOptions, _ *bool) { f(o) }
}

// withSmallSocketBuffers makes the server's TCP send buffers tiny, so a
// client that stops reading backs up quickly.
func withSmallSocketBuffers() rtOption {
	return func(_ *graph.RealtimeOptions, small *bool) { *small = true }
}

func setupRT(t testing.TB, d storetest.Dialect, opts ...rtOption) *rtBundle {
	t.Helper()
	return setupRTOn(t, storetest.Open(t, d), opts...)
}

// setupRTOn is setupRT on a store the test opened (a counting one).
func setupRTOn(t testing.TB, s *store.Store, opts ...rtOption) *rtBundle {
	t.Helper()
	var ro graph.RealtimeOptions
	small := false
	for _, o := range opts {
		o(&ro, &small)
	}
	b := &rtBundle{store: s, inbox: &inbox.Service{Store: s}, auth: &auth.Service{Store: s}}
	b.team = &team.Service{Store: s, Auth: b.auth}
	b.server = New(graph.Deps{Store: s, Auth: b.auth, Inbox: b.inbox, Team: b.team, Realtime: ro},
		Options{Logger: slog.New(slog.DiscardHandler), RateLimit: 0})
	b.http = httptest.NewUnstartedServer(b.server)
	if small {
		b.http.Listener = smallBufListener{b.http.Listener}
	}
	b.http.Start()
	t.Cleanup(b.http.Close)
	b.url = b.http.URL + "/graphql"
	b.ws, b.key, b.channel = b.newWorkspace(t, "Acme")
	return b
}

func (b *rtBundle) newWorkspace(t testing.TB, name string) (string, string, *ent.Channel) {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Create(ctx, b.store, name)
	require.NoError(t, err)
	key, _, err := b.auth.CreateKeyForWorkspace(ctx, string(ws.ID), "test", tenant.RoleOwner)
	require.NoError(t, err)
	sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
	ch, err := b.store.Ent.Channel.Create().SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID("acct-" + randID()).SetName(name + " WhatsApp").Save(sys)
	require.NoError(t, err)
	return string(ws.ID), key, ch
}

func randID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ingest stores a message from a customer on ch (a new conversation the
// first time a customer writes) and returns the message's external ID.
func (b *rtBundle) ingest(t testing.TB, ch *ent.Channel, from, text, externalID string, action sdk.MessageAction) {
	t.Helper()
	ctx := tenant.NewContext(context.Background(), tenant.System(string(ch.WorkspaceID), "test"))
	err := b.store.InTx(ctx, func(tx *store.Tx) error {
		_, err := b.inbox.Ingest(ctx, tx, ch, []*sdk.Event{{Kind: sdk.EventMessage, Platform: "whatsapp", AccountID: ch.ExternalID,
			Message: &sdk.Message{ExternalID: externalID, Action: action, Direction: sdk.Inbound, ThreadKind: sdk.ThreadDirect,
				ThreadID: from, Contact: sdk.Contact{ExternalID: from, Name: "Customer " + from}, Type: "text", Text: text}}})
		return err
	})
	require.NoError(t, err)
}

// seed writes one conversation per count, from customers cust-0,
// cust-1, …: the c-th with counts[c] messages "c<c> m<i>" (external IDs
// wamid.<c>.<i>).
func (b *rtBundle) seed(t testing.TB, counts ...int) {
	t.Helper()
	for c, n := range counts {
		for i := range n {
			b.ingest(t, b.channel, fmt.Sprintf("cust-%d", c), fmt.Sprintf("c%d m%d", c, i), fmt.Sprintf("wamid.%d.%d", c, i), sdk.ActionCreated)
		}
	}
}

// post runs a query or mutation over HTTP.
func (b *rtBundle) post(t testing.TB, key, query string, vars map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	b.postInto(t, key, query, vars, &out)
	require.Nil(t, out["errors"], "errors: %v", out["errors"])
	return out["data"].(map[string]any)
}

// postInto runs a query or mutation over HTTP and decodes the whole
// answer, errors included, into out.
func (b *rtBundle) postInto(t testing.TB, key, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, b.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

// ---- a graphql-transport-ws / graphql-ws client speaking raw frames ----

type wsClient struct {
	t     *testing.T
	c     *websocket.Conn
	proto string
}

type dialOpt func(*websocket.DialOptions)

func withHeader(k, v string) dialOpt {
	return func(o *websocket.DialOptions) {
		if o.HTTPHeader == nil {
			o.HTTPHeader = http.Header{}
		}
		o.HTTPHeader.Set(k, v)
	}
}

// withSmallReadBuffer shrinks the client's TCP receive buffer.
func withSmallReadBuffer() dialOpt {
	return func(o *websocket.DialOptions) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(1024)
			}
			return c, err
		}}}
	}
}

func (b *rtBundle) dial(t *testing.T, proto string, opts ...dialOpt) *wsClient {
	t.Helper()
	o := &websocket.DialOptions{Subprotocols: []string{proto}}
	for _, f := range opts {
		f(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.url, "http"), o)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	c.SetReadLimit(1 << 22)
	require.Equal(t, proto, c.Subprotocol())
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c, proto: proto}
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	c.sendRaw(string(b))
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(c.t, c.c.Write(ctx, websocket.MessageText, []byte(s)))
}

type frame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// read returns the next frame other than keep-alives, or the read error.
func (c *wsClient) read() (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, data, err := c.c.Read(ctx)
		if err != nil {
			return frame{}, err
		}
		var f frame
		require.NoError(c.t, json.Unmarshal(data, &f))
		switch f.Type {
		case "ka":
			continue
		case "ping":
			c.send(map[string]any{"type": "pong"})
			continue
		}
		return f, nil
	}
}

func (c *wsClient) expect(typ string) frame {
	c.t.Helper()
	f, err := c.read()
	require.NoError(c.t, err)
	require.Equal(c.t, typ, f.Type, "payload: %s", f.Payload)
	return f
}

func (c *wsClient) init(key string) {
	c.t.Helper()
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + key}})
	c.expect("connection_ack")
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	typ := "subscribe"
	if c.proto == "graphql-ws" {
		typ = "start"
	}
	c.send(map[string]any{"type": typ, "id": id, "payload": map[string]any{"query": query, "variables": vars}})
}

// next returns the data of the next result of operation id.
func (c *wsClient) next(id string) map[string]any {
	c.t.Helper()
	want := "next"
	if c.proto == "graphql-ws" {
		want = "data"
	}
	f := c.expect(want)
	require.Equal(c.t, id, f.ID)
	var p struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	require.NoError(c.t, json.Unmarshal(f.Payload, &p))
	require.Empty(c.t, p.Errors)
	return p.Data
}

// expectClose reads until the server closes and checks the close code.
func (c *wsClient) expectClose(code websocket.StatusCode) string {
	c.t.Helper()
	for {
		_, err := c.read()
		if err != nil {
			var ce websocket.CloseError
			require.ErrorAs(c.t, err, &ce, "want close %d, got %v", code, err)
			require.Equal(c.t, code, ce.Code, "reason: %s", ce.Reason)
			return ce.Reason
		}
	}
}

// ---- SSE ----

type sseStream struct {
	t      *testing.T
	cancel context.CancelFunc
	resp   *http.Response
	sc     *bufio.Scanner
}

func (b *rtBundle) sse(t *testing.T, key, query string, vars map[string]any) *sseStream {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	s := &sseStream{t: t, cancel: cancel, resp: resp, sc: bufio.NewScanner(resp.Body)}
	s.sc.Buffer(make([]byte, 1<<20), 1<<22)
	t.Cleanup(s.close)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// event returns the next event's name and data ("complete" has none).
func (s *sseStream) event() (string, map[string]any) {
	s.t.Helper()
	done := make(chan struct{})
	timer := time.AfterFunc(wait, func() { s.cancel() })
	defer timer.Stop()
	defer close(done)
	var name string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
			if name == "complete" {
				return name, nil
			}
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			require.NoError(s.t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d))
			return name, d
		}
	}
	s.t.Fatalf("SSE stream ended: %v", s.sc.Err())
	return "", nil
}

func (s *sseStream) next() map[string]any {
	s.t.Helper()
	name, d := s.event()
	require.Equal(s.t, "next", name)
	require.Nil(s.t, d["errors"], "errors: %v", d["errors"])
	return d["data"].(map[string]any)
}

// ---- helpers for the wire ----

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(1024)
	}
	return c, err
}

// dig walks a decoded JSON value by keys (and int indexes).
var dig = testenv.Dig

const (
	qConvCreated = `subscription($ch: ID) { conversationCreated(channelId: $ch) { id status channelID contact { id } } }`
	qConvUpdated = `subscription($ch: ID) { conversationUpdated(channelId: $ch) { id status lastMessageAt } }`
	qMsgAdded    = `subscription($cv: ID, $ch: ID) { messageAdded(conversationId: $cv, channelId: $ch) { id text direction conversation { id } } }`
	qMsgUpdated  = `subscription($cv: ID, $ch: ID) { messageUpdated(conversationId: $cv, channelId: $ch) { id text editedAt deletedAt deliveryStatus } }`
)

// Every subscription delivers its changes, re-read, over WebSocket with
// both subprotocols.
func TestSubscriptionsOverWebSocket(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
			t.Run(proto, func(t *testing.T) {
				b := setupRT(t, d)
				c := b.dial(t, proto)
				c.init(b.key)
				ch := map[string]any{"ch": string(b.channel.ID)}
				c.subscribe("created", qConvCreated, ch)
				c.subscribe("updated", qConvUpdated, ch)
				c.subscribe("added", qMsgAdded, ch)
				c.subscribe("changed", qMsgUpdated, nil)
				// Operations run concurrently: wait until the four are on the bus.
				require.Eventually(t, func() bool { return b.store.Bus.Len() == 4 }, wait, 5*time.Millisecond)
				// Queries run over the socket too.
				c.subscribe("sync", `{ viewer { role } }`, nil)
				got := map[string]map[string]any{}
				collect := func(n int) {
					for range n {
						f, err := c.read()
						require.NoError(t, err)
						if f.Type == "complete" {
							continue
						}
						var p struct {
							Data map[string]any `json:"data"`
						}
						require.NoError(t, json.Unmarshal(f.Payload, &p), "frame %+v", f)
						got[f.ID] = p.Data
					}
				}
				collect(1)
				require.Equal(t, "OWNER", dig(got["sync"], "viewer", "role"))
				c.expect("complete")

				b.ingest(t, b.channel, "16505550001", "hello", "wamid.1", "")
				collect(2)
				conv := dig(got["created"], "conversationCreated", "id").(string)
				require.Equal(t, "OPEN", dig(got["created"], "conversationCreated", "status"))
				require.Equal(t, string(b.channel.ID), dig(got["created"], "conversationCreated", "channelID"))
				require.Equal(t, "hello", dig(got["added"], "messageAdded", "text"))
				require.Equal(t, conv, dig(got["added"], "messageAdded", "conversation", "id"))

				b.ingest(t, b.channel, "16505550001", "edited hello", "wamid.1", sdk.ActionEdited)
				collect(1)
				require.Equal(t, "edited hello", dig(got["changed"], "messageUpdated", "text"))
				require.NotNil(t, dig(got["changed"], "messageUpdated", "editedAt"))

				// A mutation through the API is followed too.
				b.post(t, b.key, `mutation($id: ID!) { updateConversation(id: $id, input: {status: RESOLVED}) { id } }`, map[string]any{"id": conv})
				collect(1)
				require.Equal(t, "RESOLVED", dig(got["updated"], "conversationUpdated", "status"))

				// Client-side complete stops one operation; the others go on.
				stop := "complete"
				if proto == "graphql-ws" {
					stop = "stop"
				}
				c.send(map[string]any{"type": stop, "id": "added"})
				require.Eventually(t, func() bool { return b.store.Bus.Len() == 3 }, wait, 5*time.Millisecond)
				b.ingest(t, b.channel, "16505550001", "second", "wamid.2", "")
				for {
					f, err := c.read()
					require.NoError(t, err)
					if f.ID == "added" {
						require.Equal(t, "complete", f.Type, "a stopped operation sends nothing more")
						continue
					}
					require.Equal(t, "updated", f.ID)
					break
				}
			})
		}
	})
}

// The same subscriptions stream over Server-Sent Events.
func TestSubscriptionsOverSSE(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d)
		created := b.sse(t, b.key, qConvCreated, nil)
		added := b.sse(t, b.key, qMsgAdded, map[string]any{"ch": string(b.channel.ID)})
		changed := b.sse(t, b.key, qMsgUpdated, nil)
		updated := b.sse(t, b.key, qConvUpdated, nil)
		// An SSE stream answers its first byte before the resolver runs:
		// wait until all four are on the bus.
		require.Eventually(t, func() bool { return b.store.Bus.Len() == 4 }, wait, 5*time.Millisecond)

		b.ingest(t, b.channel, "16505550002", "hi over sse", "wamid.s1", "")
		conv := dig(created.next(), "conversationCreated", "id").(string)
		require.Equal(t, "hi over sse", dig(added.next(), "messageAdded", "text"))

		b.ingest(t, b.channel, "16505550002", "", "wamid.s1", sdk.ActionDeleted)
		require.NotNil(t, dig(changed.next(), "messageUpdated", "deletedAt"))

		b.post(t, b.key, `mutation($id: ID!) { updateConversation(id: $id, input: {status: PENDING}) { id } }`, map[string]any{"id": conv})
		require.Equal(t, "PENDING", dig(updated.next(), "conversationUpdated", "status"))

		// Ending the stream releases the subscription.
		for _, s := range []*sseStream{created, added, changed, updated} {
			s.close()
		}
		require.Eventually(t, func() bool { return b.store.Bus.Len() == 0 }, wait, 5*time.Millisecond)
	})
}

// A subscriber never receives another workspace's events, and cannot
// filter on another workspace's IDs.
func TestSubscriptionTenantIsolation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d)
		_, otherKey, otherCh := b.newWorkspace(t, "Other")

		c := b.dial(t, "graphql-transport-ws")
		c.init(otherKey)
		c.subscribe("all", `subscription { messageAdded { id text } }`, nil)
		require.Eventually(t, func() bool { return b.store.Bus.Len() == 1 }, wait, 5*time.Millisecond)

		// Filters naming A's objects answer NOT_FOUND.
		c.subscribe("foreign", qMsgAdded, map[string]any{"ch": string(b.channel.ID)})
		f := c.expect("next")
		require.Contains(t, string(f.Payload), "NOT_FOUND")
		c.expect("complete")

		b.ingest(t, b.channel, "16505550003", "secret of A", "wamid.a1", "")
		b.ingest(t, otherCh, "16505550004", "mine", "wamid.b1", "")
		// B's own message is the first thing B hears: A's came before it
		// and was never sent.
		require.Equal(t, "mine", dig(c.next("all"), "messageAdded", "text"))

		// The same over SSE.
		s := b.sse(t, otherKey, `subscription { conversationCreated { id channelID } }`, nil)
		require.Eventually(t, func() bool { return b.store.Bus.Len() == 2 }, wait, 5*time.Millisecond)
		b.ingest(t, b.channel, "16505550005", "A again", "wamid.a2", "")
		b.ingest(t, otherCh, "16505550006", "B again", "wamid.b2", "")
		require.Equal(t, string(otherCh.ID), dig(s.next(), "conversationCreated", "channelID"))
	})
}

// Every close code of the protocol, and the HTTP-level refusals.
func TestWebSocketCloseCodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d, withRealtime(func(o *graph.RealtimeOptions) {
			o.InitTimeout = 100 * time.Millisecond
			o.MaxConnectionsPerKey = 2
			o.MaxSubscriptionsPerConnection = 2
			o.AllowedOrigins = []string{"https://*.example.com"}
		}))
		const p = "graphql-transport-ws"
		cases := []struct {
			name string
			code websocket.StatusCode
			run  func(c *wsClient)
		}{
			{"invalid json", 4400, func(c *wsClient) { c.sendRaw("{nope") }},
			{"no type", 4400, func(c *wsClient) { c.sendRaw(`{"id":"1"}`) }},
			{"unknown type after init", 4400, func(c *wsClient) { c.init(b.key); c.send(map[string]any{"type": "start", "id": "1"}) }},
			{"init payload not an object", 4400, func(c *wsClient) { c.sendRaw(`{"type":"connection_init","payload":"x"}`) }},
			{"subscribe without id", 4400, func(c *wsClient) { c.init(b.key); c.send(map[string]any{"type": "subscribe"}) }},
			{"no key", 4401, func(c *wsClient) { c.send(map[string]any{"type": "connection_init"}) }},
			{"bad key", 4401, func(c *wsClient) {
				c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer nk_nope"}})
			}},
			{"subscribe before init", 4401, func(c *wsClient) { c.subscribe("1", qMsgAdded, nil) }},
			{"init timeout", 4408, func(c *wsClient) {}},
			{"duplicate id", 4409, func(c *wsClient) {
				c.init(b.key)
				c.subscribe("1", qMsgAdded, nil)
				c.subscribe("1", qMsgAdded, nil)
			}},
			{"second init", 4429, func(c *wsClient) {
				c.init(b.key)
				c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + b.key}})
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := b.dial(t, p)
				c.t = t
				tc.run(c)
				c.expectClose(tc.code)
			})
		}

		t.Run("forbidden: connections per key", func(t *testing.T) {
			_, key, _ := b.newWorkspace(t, "Limited")
			c1, c2 := b.dial(t, p), b.dial(t, p)
			c1.init(key)
			c2.init(key)
			c3 := b.dial(t, p)
			c3.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": key}})
			require.Contains(t, c3.expectClose(4403), "too many connections")
			// SSE streams count too, and are refused with 429.
			req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader(`{"query":"subscription { messageAdded { id } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			// A closed connection frees its slot.
			c1.c.Close(websocket.StatusNormalClosure, "")
			require.Eventually(t, func() bool {
				c4 := b.dial(t, p)
				c4.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + key}})
				f, err := c4.read()
				return err == nil && f.Type == "connection_ack"
			}, wait, 10*time.Millisecond)
		})

		t.Run("forbidden: key revoked while connected", func(t *testing.T) {
			ws, key, _ := b.newWorkspace(t, "Revoked")
			c := b.dial(t, p)
			c.init(key)
			ctx := tenant.NewContext(context.Background(), tenant.System(ws, "test"))
			k, err := b.store.Ent.APIKey.Query().Only(ctx)
			require.NoError(t, err)
			// The last owner key cannot be revoked: add another first.
			_, _, err = b.auth.CreateKeyForWorkspace(context.Background(), ws, "spare", tenant.RoleOwner)
			require.NoError(t, err)
			_, err = b.auth.RevokeKey(tenant.NewContext(context.Background(), tenant.Member(ws, tenant.RoleOwner, "test", "")), k.ID)
			require.NoError(t, err)
			c.expectClose(4403)
		})

		t.Run("header key and too many subscriptions", func(t *testing.T) {
			c := b.dial(t, p, withHeader("Authorization", "Bearer "+b.key))
			c.send(map[string]any{"type": "connection_init"})
			c.expect("connection_ack")
			c.subscribe("1", qMsgAdded, nil)
			c.subscribe("2", qMsgAdded, nil)
			c.subscribe("3", qMsgAdded, nil)
			// They start concurrently: one of the three is refused.
			f := c.expect("next")
			require.Contains(t, string(f.Payload), "RATE_LIMITED")
			require.Equal(t, f.ID, c.expect("complete").ID)
		})

		t.Run("origins", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			u := "ws" + strings.TrimPrefix(b.url, "http")
			_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.test"}}})
			require.Error(t, err)
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			for _, origin := range []string{"https://app.example.com", b.http.URL} {
				c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}, Subprotocols: []string{p}})
				require.NoError(t, err, origin)
				c.CloseNow()
			}
		})
	})
}

// graphql-transport-ws keep-alive: the server pings and answers pings,
// and drops a client that never answers.
func TestWebSocketKeepAlive(t *testing.T) {
	t.Parallel()
	b := setupRT(t, storetest.SQLite, withRealtime(func(o *graph.RealtimeOptions) { o.PingInterval = 20 * time.Millisecond }))
	c := b.dial(t, "graphql-transport-ws")
	c.init(b.key)
	c.send(map[string]any{"type": "ping"})
	// read() answers server pings itself; the client's ping gets its pong.
	c.expect("pong")

	mute := b.dial(t, "graphql-transport-ws")
	mute.init(b.key)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sawPing := false
	for {
		_, data, err := mute.c.Read(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "dropped by the server, not by the test's timeout")
			break
		}
		sawPing = sawPing || strings.Contains(string(data), `"ping"`)
	}
	require.True(t, sawPing)

	legacy := b.dial(t, "graphql-ws")
	legacy.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + b.key}})
	legacy.expect("connection_ack")
	_, data, err := legacy.c.Read(ctx)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"ka"}`, string(data))
}

// A consumer that stops reading is closed with 4413 once its buffer
// fills; a fast one on the same workspace keeps receiving every event.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d, withSmallSocketBuffers(), withRealtime(func(o *graph.RealtimeOptions) { o.Buffer = 4 }))
		b.ingest(t, b.channel, "16505550007", strings.Repeat("long message ", 400), "wamid.big", "")
		ctx := tenant.NewContext(context.Background(), tenant.System(b.ws, "test"))
		msg, err := b.store.Ent.Message.Query().Only(ctx)
		require.NoError(t, err)

		slow := b.dial(t, "graphql-transport-ws", withSmallReadBuffer())
		slow.init(b.key)
		slow.subscribe("s", `subscription { messageUpdated { id text } }`, nil)
		fast := b.dial(t, "graphql-transport-ws")
		fast.init(b.key)
		fast.subscribe("f", `subscription { messageUpdated { id } }`, nil)
		require.Eventually(t, func() bool { return b.store.Bus.Len() == 2 }, wait, 5*time.Millisecond)

		ev := event.Event{Type: event.MessageUpdated, WorkspaceID: b.ws, ObjectID: string(msg.ID),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)}
		sent := 0
		for sent < 5000 && b.server.rt.closedWith(closeSlowConsumer) == 0 {
			b.store.Bus.Publish(ev)
			sent++
			require.Equal(t, string(msg.ID), dig(fast.next("f"), "messageUpdated", "id"), "event %d", sent)
		}
		require.Equal(t, 1, b.server.rt.closedWith(closeSlowConsumer), "the slow consumer was closed after %d events", sent)
		require.Contains(t, slow.expectClose(closeSlowConsumer), "slow consumer")

		// The fast one was never held up and still receives.
		b.store.Bus.Publish(ev)
		require.Equal(t, string(msg.ID), dig(fast.next("f"), "messageUpdated", "id"))
	})
}

// When the replica's event stream is interrupted, subscribers are told:
// WebSockets close with 4503, SSE streams end with a RESYNC error.
func TestResyncTellsSubscribers(t *testing.T) {
	t.Parallel()
	b := setupRT(t, storetest.SQLite)
	c := b.dial(t, "graphql-transport-ws")
	c.init(b.key)
	c.subscribe("1", qConvCreated, nil)
	s := b.sse(t, b.key, qConvCreated, nil)
	require.Eventually(t, func() bool { return b.store.Bus.Len() == 2 }, wait, 5*time.Millisecond)

	b.store.Bus.Resync()
	require.Contains(t, c.expectClose(closeResync), "resync")
	name, data := s.event()
	require.Equal(t, "next", name)
	require.Equal(t, "RESYNC", dig(data["errors"].([]any)[0], "extensions", "code"))
	name, _ = s.event()
	require.Equal(t, "complete", name)
	require.Eventually(t, func() bool { return b.store.Bus.Len() == 0 }, wait, 5*time.Millisecond)
}

// Queries and mutations still need a key over HTTP; WebSocket upgrades
// pass to connection_init.
func TestHTTPStillRequiresAKey(t *testing.T) {
	t.Parallel()
	b := setupRT(t, storetest.SQLite)
	resp, err := http.Post(b.url, "application/json", strings.NewReader(`{"query":"{ viewer { role } }"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req, _ := http.NewRequest(http.MethodPost, b.url, strings.NewReader(`{"query":"subscription { messageAdded { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
