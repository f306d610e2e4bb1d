package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
)

// A client trickling a request — its body, or its headers — is cut off
// once the read timeout has passed, instead of holding its connection (and
// a goroutine, and a webhook handler) open indefinitely.
func TestSlowClientsAreCutOff(t *testing.T) {
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(), withConfig(func(c *config.Config) {
		c.HTTPReadTimeout = time.Second
		c.HTTPReadHeaderTimeout = time.Second
	}))
	addr := strings.TrimPrefix(e.URL, "http://")
	trickle := func(conn net.Conn, head string) {
		_, _ = io.WriteString(conn, head)
		go func() {
			for range 200 { // 20 s of one byte every 100 ms: never a whole request
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	// closed reads until the server ends the connection; a read that
	// times out means the server kept it open.
	closed := func(t *testing.T, br *bufio.Reader, conn net.Conn) {
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second)) // a bound for a hang, not a timing
		_, err := io.Copy(io.Discard, br)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open")
	}

	t.Run("body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		trickle(conn, "POST /webhooks/whatsapp HTTP/1.1\r\nHost: neksio\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
		br := bufio.NewReader(conn)
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err, "no answer: the server kept waiting for the body")
		resp.Body.Close()
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		closed(t, br, conn)
	})
	t.Run("headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		trickle(conn, "POST /graphql HTTP/1.1\r\nHost: neksio\r\nX-Slow: ")
		closed(t, bufio.NewReader(conn), conn)
	})
	t.Run("graphql body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		trickle(conn, "POST /graphql HTTP/1.1\r\nHost: neksio\r\nAuthorization: Bearer "+e.Key+
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
		br := bufio.NewReader(conn)
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		closed(t, br, conn)
	})
}

// The read and write deadlines are lifted for subscriptions: an SSE
// stream and a WebSocket outlive them and still deliver.
func TestStreamsOutliveTheRequestDeadlines(t *testing.T) {
	e := newEnv(t, storetest.SQLite, withConfig(func(c *config.Config) {
		c.HTTPReadTimeout = 500 * time.Millisecond
		c.HTTPWriteTimeout = 500 * time.Millisecond
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	body, _ := json.Marshal(map[string]any{"query": `subscription { messageAdded { text } }`})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+e.Key)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	defer ws.CloseNow()
	write := func(v any) {
		b, _ := json.Marshal(v)
		require.NoError(t, ws.Write(ctx, websocket.MessageText, b))
	}
	write(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + e.Key}})
	write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": `subscription { messageAdded { text } }`}})

	time.Sleep(2 * time.Second) // four times the deadlines
	e.whatsappText(t, "15550001111", "still there?")

	sc := bufio.NewScanner(resp.Body)
	got := ""
	for got == "" && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), "still there?") {
			got = sc.Text()
		}
	}
	require.NotEmpty(t, got, "the SSE stream ended: %v", sc.Err())
	for {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err, "the WebSocket was closed")
		if strings.Contains(string(data), "still there?") {
			break
		}
	}
	// An ordinary request still answers under the short deadlines.
	require.NotNil(t, e.gql(t, `{ viewer { role } }`, nil)["viewer"])
}

// fakeEmbeddings is an OpenAI-compatible embeddings endpoint that holds
// every request until released, counting how many of each workspace's
// questions wait at once.
type fakeEmbeddings struct {
	mu       sync.Mutex
	inflight map[string]int
	peak     map[string]int
	release  chan struct{}
}

func (f *fakeEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	who := ""
	if len(body.Input) > 0 {
		who, _, _ = strings.Cut(body.Input[0], "-")
	}
	f.mu.Lock()
	f.inflight[who]++
	f.peak[who] = max(f.peak[who], f.inflight[who])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight[who]--
		f.mu.Unlock()
	}()
	select {
	case <-f.release:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"model":%q,"usage":{"prompt_tokens":1,"total_tokens":1}}`, body.Model)
}

func (f *fakeEmbeddings) now(who string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight[who]
}

// Expensive fields (here askKnowledgeBase, which calls the AI provider) run
// at most NEKSIO_GRAPHQL_EXPENSIVE_CONCURRENCY at once per workspace: a
// workspace sending many waits for its own slots, and another workspace
// is not held up behind it.
func TestExpensiveFieldsAreLimitedPerWorkspace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		fake := &fakeEmbeddings{inflight: map[string]int{}, peak: map[string]int{}, release: make(chan struct{})}
		srv := http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		released := false
		release := func() {
			if !released {
				released = true
				close(fake.release)
			}
		}
		t.Cleanup(release)

		e := newEnv(t, d, withoutWhatsAppChannel(),
			withConfig(func(c *config.Config) {
				c.AI = config.AI{BaseURL: "http://" + ln.Addr().String() + "/v1", APIKey: "sk-test",
					ChatModel: "chat-test", EmbeddingModel: "embed-test"}
				c.GraphQLExpensiveConcurrency = 1
			}))
		_, keyB := e.newWorkspace(t, "Other tenant")
		// Both workspaces let the external model answer (docs/privacy.md).
		for _, k := range []string{e.Key, keyB} {
			r := e.gqlAs(t, k, `mutation { updateWorkspaceSettings(input: {aiProcessing: EXTERNAL_ALLOWED}) { aiProcessing } }`, nil)
			require.Empty(t, r.Errors)
		}

		var wg sync.WaitGroup
		answers := make(chan string, 4)
		ask := func(key, question string) { // in a goroutine: no require here
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"query": `query($q: String!) { askKnowledgeBase(question: $q) { refused } }`,
				"variables": map[string]any{"q": question}})
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := e.client.Do(req)
			if err != nil {
				answers <- err.Error()
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			answers <- string(raw)
		}
		for i := range 3 {
			wg.Add(1)
			go ask(e.Key, fmt.Sprintf("A-%d", i))
		}
		require.Eventually(t, func() bool { return fake.now("A") >= 1 }, 20*time.Second, 10*time.Millisecond)
		wg.Add(1)
		go ask(keyB, "B-0")
		require.Eventually(t, func() bool { return fake.now("B") == 1 }, 20*time.Second, 10*time.Millisecond,
			"the other workspace's question is not queued behind the first one's")
		fake.mu.Lock()
		peakA := fake.peak["A"]
		fake.mu.Unlock()
		require.Equal(t, 1, peakA, "one of the workspace's three questions at a time")

		release()
		wg.Wait()
		close(answers)
		for a := range answers {
			require.JSONEq(t, `{"data":{"askKnowledgeBase":{"refused":true}}}`, a)
		}
	})
}
