package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const rtWait = 20 * time.Second // a bound for a hang, not a timing assertion

// rtSocket is a graphql-transport-ws client speaking raw frames.
type rtSocket struct {
	t *testing.T
	c *websocket.Conn
}

func (e *env) subscribeWS(t *testing.T, key string) *rtSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	c.SetReadLimit(1 << 22)
	t.Cleanup(func() { c.CloseNow() })
	s := &rtSocket{t: t, c: c}
	s.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + key}})
	require.Equal(t, "connection_ack", s.read()["type"])
	return s
}

func (s *rtSocket) send(v any) {
	s.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	require.NoError(s.t, s.c.Write(ctx, websocket.MessageText, b))
}

func (s *rtSocket) read() map[string]any {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	for {
		_, data, err := s.c.Read(ctx)
		require.NoError(s.t, err)
		var m map[string]any
		require.NoError(s.t, json.Unmarshal(data, &m))
		if m["type"] == "ping" {
			s.send(map[string]any{"type": "pong"})
			continue
		}
		return m
	}
}

func (s *rtSocket) subscribe(id, query string) {
	s.t.Helper()
	s.send(map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{"query": query}})
}

// results reads until it has one result for each of ids and returns the
// data by id.
func (s *rtSocket) results(ids ...string) map[string]map[string]any {
	s.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]map[string]any{}
	for len(out) < len(want) {
		m := s.read()
		require.Equal(s.t, "next", m["type"], "frame %v", m)
		id := m["id"].(string)
		require.True(s.t, want[id], "unexpected result for %s: %v", id, m)
		require.Nil(s.t, dig(m, "payload", "errors"), "frame %v", m)
		out[id] = dig(m, "payload", "data").(map[string]any)
	}
	return out
}

// rtSSE is one subscription over Server-Sent Events.
type rtSSE struct {
	t      *testing.T
	cancel context.CancelFunc
	sc     *bufio.Scanner
}

func (e *env) subscribeSSE(t *testing.T, key, query string) *rtSSE {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return &rtSSE{t: t, cancel: cancel, sc: bufio.NewScanner(resp.Body)}
}

func (s *rtSSE) next() map[string]any {
	s.t.Helper()
	timer := time.AfterFunc(rtWait, s.cancel)
	defer timer.Stop()
	for s.sc.Scan() {
		if line, ok := strings.CutPrefix(s.sc.Text(), "data: "); ok {
			var m map[string]any
			require.NoError(s.t, json.Unmarshal([]byte(line), &m))
			require.Nil(s.t, m["errors"], "event %v", m)
			return m["data"].(map[string]any)
		}
	}
	s.t.Fatalf("SSE stream ended: %v", s.sc.Err())
	return nil
}

// waitSubscribers waits until n subscriptions are on the app's bus.
func (e *env) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return e.App.Store.Bus.Len() == n }, rtWait, 5*time.Millisecond)
}

// A WhatsApp message, the reply sent through the API and its delivery
// reach subscribers over WebSocket and SSE, through the whole App.
func TestRealtimeEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		ws := e.subscribeWS(t, e.Key)
		ws.subscribe("created", `subscription { conversationCreated { id status channel { id } contact { name } } }`)
		ws.subscribe("added", `subscription { messageAdded { id text direction conversation { id } } }`)
		updated := e.subscribeSSE(t, e.Key, `subscription { conversationUpdated { id status } }`)
		delivered := e.subscribeSSE(t, e.Key, `subscription { messageUpdated { id deliveryStatus direction } }`)
		e.waitSubscribers(t, 4)

		e.whatsappText(t, "16505551234", "Do you open on Sundays?")
		got := ws.results("created", "added")
		conv := dig(got["created"], "conversationCreated", "id").(string)
		require.Equal(t, e.WAChannel, dig(got["created"], "conversationCreated", "channel", "id"))
		require.Equal(t, "Do you open on Sundays?", dig(got["added"], "messageAdded", "text"))
		require.Equal(t, "INBOUND", dig(got["added"], "messageAdded", "direction"))
		// The agent's handoff (no answer in the empty knowledge base) opens
		// the conversation: it must not land after the update below.
		e.waitJobs(t)

		e.gql(t, `mutation($id: ID!) { updateConversation(id: $id, input: {status: PENDING}) { id } }`, map[string]any{"id": conv})
		for {
			// Other writers (the agent, sentiment) may update it first.
			if dig(updated.next(), "conversationUpdated", "status") == "PENDING" {
				break
			}
		}

		reply := e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Yes, 9 to 5."}) { id } }`, map[string]any{"id": conv})
		replyID := dig(reply, "sendReply", "id").(string)
		for {
			m := ws.results("added")["added"]
			if dig(m, "messageAdded", "id") == replyID {
				require.Equal(t, "OUTBOUND", dig(m, "messageAdded", "direction"))
				break
			}
		}
		for {
			m := delivered.next()
			if dig(m, "messageUpdated", "id") == replyID && dig(m, "messageUpdated", "deliveryStatus") == "SENT" {
				break
			}
		}
	})
}

// Two `neksio serve` processes on one PostgreSQL database: a subscriber on
// one receives what a webhook or a mutation changes through the other.
func TestRealtimeAcrossReplicas(t *testing.T) {
	t.Parallel()
	a := newEnv(t, storetest.Postgres)
	b := newEnv(t, storetest.Postgres, withDatabaseURL(a.App.Cfg.DatabaseURL), withoutWhatsAppChannel(),
		withConfig(func(c *config.Config) { c.Role = "api" }))

	onB := b.subscribeWS(t, a.Key)
	onB.subscribe("created", `subscription { conversationCreated { id } }`)
	onB.subscribe("added", `subscription { messageAdded { id text } }`)
	b.waitSubscribers(t, 2)
	// B's own workspace subscribes too and must hear nothing of A's.
	other := b.subscribeWS(t, b.Key)
	other.subscribe("added", `subscription { messageAdded { id text } }`)
	b.waitSubscribers(t, 3)

	start := time.Now()
	a.whatsappText(t, "16505550100", "hello from replica A")
	acked := time.Now()
	got := onB.results("created", "added")
	// Reported, not asserted: timings belong to benchmarks.
	t.Logf("replica A answered the webhook in %s; replica B's subscriber had the message %s after that 200",
		acked.Sub(start).Round(time.Millisecond), time.Since(acked).Round(time.Millisecond))
	conv := dig(got["created"], "conversationCreated", "id").(string)
	require.Equal(t, "hello from replica A", dig(got["added"], "messageAdded", "text"))
	// A's own jobs on the message (sentiment, the agent) finish first: the
	// agent, finding no answer in the empty knowledge base, hands the
	// conversation off, which opens it. Committed after B's resolve, that
	// handoff would leave it OPEN, and A's subscriber, which re-reads the
	// conversation on each event, would never see RESOLVED.
	a.waitJobs(t)

	onA := a.subscribeWS(t, a.Key)
	onA.subscribe("updated", `subscription { conversationUpdated { id status } }`)
	a.waitSubscribers(t, 1)
	r := b.gqlAs(t, a.Key, `mutation($id: ID!) { updateConversation(id: $id, input: {status: RESOLVED}) { id } }`, map[string]any{"id": conv})
	require.Empty(t, r.Errors)
	for {
		m := onA.results("updated")["updated"]
		if dig(m, "conversationUpdated", "status") == "RESOLVED" {
			break
		}
	}

	// B's workspace gets its own WhatsApp number; its first message is the
	// first thing its subscriber hears: A's never reached it.
	const bPhoneID = "106540352242999"
	b.WhatsApp.AddNumber(bPhoneID, "15550783999", "B Shop", "wa-token-b")
	r = b.gqlAs(t, b.Key, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"connector": "whatsapp", "externalId": bPhoneID, "name": "B WhatsApp",
			"credentials": map[string]any{"accessToken": "wa-token-b"}}})
	require.Empty(t, r.Errors)
	require.Equal(t, http.StatusOK, a.whatsappWebhook(t, wasandbox.TextMessage(bPhoneID, "16505550200", "Bee", "for B")))
	require.Equal(t, "for B", dig(other.results("added")["added"], "messageAdded", "text"))
}
