package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// One delivery may batch several messages and statuses (here across two
// changes of one entry): all are stored in its one transaction.
func TestWhatsAppBatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		var a, b map[string]any
		require.NoError(t, json.Unmarshal(wasandbox.TextMessage(testWAPhoneID, "111", "Ann", "first"), &a))
		require.NoError(t, json.Unmarshal(wasandbox.TextMessage(testWAPhoneID, "222", "Bob", "second"), &b))
		// Merge b's change into a's entry, and a second message into b's value.
		valueB := dig(b, "entry", 0, "changes", 0, "value").(map[string]any)
		msgs := valueB["messages"].([]any)
		extra := map[string]any{"from": "222", "id": "wamid.extra-" + fmt.Sprint(time.Now().UnixNano()), "timestamp": fmt.Sprint(time.Now().Unix()),
			"type": "text", "text": map[string]any{"body": "third"}}
		valueB["messages"] = append(msgs, extra)
		valueB["statuses"] = []any{map[string]any{"id": "wamid.unknown", "status": "delivered", "timestamp": fmt.Sprint(time.Now().Unix()), "recipient_id": "222"}}
		entry := dig(a, "entry", 0).(map[string]any)
		entry["changes"] = append(entry["changes"].([]any), dig(b, "entry", 0, "changes", 0))
		body, err := json.Marshal(a)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, body))
		require.Equal(t, 3, countRows(t, e, "messages"))
		require.Equal(t, 2, countRows(t, e, "conversations"))
		require.Equal(t, 1, countRows(t, e, "pending_status"))
		// Posted again: nothing new.
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, body))
		require.Equal(t, 3, countRows(t, e, "messages"))
	})
}

// A status may overtake the send call that learns its message's id; it is
// kept and applied once the id is recorded. A later "failed" with 131047
// marks the message and hands the conversation to a human.
func TestWhatsAppStatusBeforeMessageAndFailure(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		var envp atomic.Pointer[env]
		var early sync.Once
		e := newEnv(t, d, withWhatsAppSandbox(wasandbox.WithOnSend(func(m wasandbox.SentMessage) {
			// Runs before the emulator answers the send: the platform's
			// "delivered" reaches Neksio before the send call returns.
			early.Do(func() {
				if e := envp.Load(); e != nil {
					e.whatsappWebhook(t, wasandbox.StatusUpdate(testWAPhoneID, m.ID, m.WaID, "delivered"))
				}
			})
		})))
		envp.Store(e)
		e.whatsappText(t, "16505551234", "hello")
		conv := dig(e.gql(t, conversationsQuery, nil), "conversations", "edges", 0, "node", "id").(string)
		msg := dig(e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hi!"}) { id } }`, map[string]any{"id": conv}), "sendReply", "id").(string)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.WhatsApp.WaitSent(ctx, 1)
		require.NoError(t, err)
		e.waitJobs(t)
		status := func() map[string]any {
			return dig(e.gql(t, `query($id: ID!) { node(id: $id) { ... on Message { deliveryStatus errorCode errorMessage } } }`, map[string]any{"id": msg}), "node").(map[string]any)
		}
		require.Equal(t, "DELIVERED", status()["deliveryStatus"], "the early status was applied")
		require.Equal(t, 0, countRows(t, e, "pending_status"))

		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, wasandbox.FailedStatus(testWAPhoneID, sent[0].ID, "16505551234", 131047,
			"Re-engagement message", "Message failed to send because more than 24 hours have passed")))
		st := status()
		require.Equal(t, "FAILED", st["deliveryStatus"])
		require.Contains(t, st["errorCode"], "131047")
		c := e.gql(t, `query($id: ID!) { node(id: $id) { ... on Conversation { handoffReason } } }`, map[string]any{"id": conv})
		require.Contains(t, dig(c, "node", "handoffReason"), "delivery failed")
	})
}

// The plugin process dies mid-traffic: the host restarts it, deliveries
// that failed got a non-2xx (and are retried by the sender, as platforms
// do), and every delivery that got a 200 is stored exactly once.
func TestWhatsAppPluginKilledMidTraffic(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		const n = 60
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = wasandbox.TextMessage(testWAPhoneID, fmt.Sprintf("1650555%04d", i), "C", fmt.Sprintf("message %d", i))
		}
		var ok200 atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += 4 {
					// Retry like a platform until acknowledged (bounded).
					for attempt := 0; attempt < 200; attempt++ {
						if e.whatsappWebhook(t, bodies[i]) == http.StatusOK {
							ok200.Add(1)
							break
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
			}(w)
		}
		// Kill the plugin a few times while traffic flows.
		for k := 0; k < 3; k++ {
			var pid int
			require.Eventually(t, func() bool { pid = e.App.Connectors.PID("whatsapp"); return pid != 0 }, 30*time.Second, 10*time.Millisecond)
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		require.EqualValues(t, n, ok200.Load(), "every delivery was eventually acknowledged")
		require.Equal(t, n, countRows(t, e, "messages"), "each acknowledged delivery stored exactly once")
		// And the connector is healthy again.
		require.Eventually(t, func() bool {
			r := e.gqlAs(t, e.Key, `{ connectors { name healthy } }`, nil)
			for _, c := range dig(r.Data, "connectors").([]any) {
				if dig(c, "name") == "whatsapp" {
					return dig(c, "healthy") == true
				}
			}
			return false
		}, 60*time.Second, 50*time.Millisecond)
	})
}

// With the agent off for a channel, inbound messages queue no ai.reply job
// at all (sentiment still runs).
func TestAgentOffQueuesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	e.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: OFF}) { aiMode } }`, map[string]any{"id": e.WAChannel})
	e.whatsappText(t, "16505551234", "hello")
	require.Equal(t, 0, storetest.CountJobs(t, e.App.Store.DB, "ai.reply"))
	// Sentiment still runs: the built-in model scored the message as it
	// was stored (no job).
	require.Equal(t, 0, storetest.CountJobs(t, e.App.Store.DB, "sentiment.analyze"))
	var scored int
	require.NoError(t, e.App.Store.DB.QueryRow("SELECT count(*) FROM messages WHERE sentiment_label IS NOT NULL").Scan(&scored))
	require.Equal(t, 1, scored)
	// A conversation override turns it back on for that conversation.
	conv := dig(e.gql(t, conversationsQuery, nil), "conversations", "edges", 0, "node", "id")
	e.gql(t, `mutation($id: ID!) { updateConversation(id: $id, input: {aiMode: DRAFT}) { id } }`, map[string]any{"id": conv})
	e.whatsappText(t, "16505551234", "still there?")
	require.Equal(t, 1, storetest.CountJobs(t, e.App.Store.DB, "ai.reply"))
}

// Deliveries race: the first messages of a new customer, and repeats of
// one message, arriving at once all get a 200 and are stored once each
// (the loser of a unique-key race runs again instead of answering 503).
func TestWhatsAppConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		const n = 8
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = wasandbox.TextMessage(testWAPhoneID, "16505559999", "New Customer", fmt.Sprintf("hello %d", i))
		}
		same := wasandbox.TextMessage(testWAPhoneID, "16505558888", "Other", "sent once, delivered many times")
		codes := make(chan int, 2*n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(2)
			go func(i int) { defer wg.Done(); codes <- e.whatsappWebhook(t, bodies[i]) }(i)
			go func() { defer wg.Done(); codes <- e.whatsappWebhook(t, same) }()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			require.Equal(t, http.StatusOK, c)
		}
		require.Equal(t, n+1, countRows(t, e, "messages"))
		require.Equal(t, 2, countRows(t, e, "contacts"))
		require.Equal(t, 2, countRows(t, e, "conversations"))
	})
}
