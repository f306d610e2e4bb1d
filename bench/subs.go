package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// The subscription every subscriber runs: the API the realtime work
// exposes (schema/realtime.graphqls: messageAdded over graphql-transport-ws).
const subscriptionQuery = `subscription { messageAdded { id text createdAt } }`

const wsProtocol = "graphql-transport-ws"

// benchSubscriptions connects many WebSocket subscribers to one server and
// measures the time from webhook commit to delivery, and memory per
// connection; the baseline is a bare fan-out server speaking the same
// protocol (serveWSBaseline, a subprocess of this binary).
func benchSubscriptions(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "GraphQL subscriptions: webhook commit to delivery, memory per connection"
	r.Baseline = "a bare WebSocket fan-out server (coder/websocket, graphql-transport-ws framing, one writer goroutine per connection) in its own process, publishing on an HTTP POST"
	subscribers := e.cfg.sized(10_000, 5)
	events := e.cfg.sized(20, 3)
	r.param("subscribers", subscribers)
	r.param("events", events)

	// Baseline first: it does not depend on the realtime work.
	bl, err := startWSBaseline(e)
	if err != nil {
		return fmt.Errorf("baseline server: %w", err)
	}
	blRun, err := fanOut(ctx, fanOutTarget{
		wsURL: bl.url + "/ws", pid: bl.pid(),
		publish: func(ctx context.Context, k int, text string) error {
			resp, err := http.Post(bl.url+"/publish", "text/plain", strings.NewReader(text))
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		},
	}, subscribers, events)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	bl.stop()

	dbURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	// One API key holds every subscriber: lift the per-key connection cap.
	perKey := fmt.Sprint(subscribers + 100)
	r.param("NEKSIO_REALTIME_MAX_CONNECTIONS_PER_KEY", perKey)
	srv, err := e.startServer(ctx, dbURL, "NEKSIO_REALTIME_MAX_CONNECTIONS_PER_KEY="+perKey)
	if err != nil {
		return err
	}
	if _, err := srv.connectWhatsApp(ctx, "OFF"); err != nil {
		return err
	}
	target := fanOutTarget{
		wsURL: srv.URL + "/graphql", key: srv.Key, pid: srv.pid(),
		publish: func(ctx context.Context, k int, text string) error {
			from := fmt.Sprintf("1777%07d", k)
			code, err := srv.webhook(ctx, wasandbox.TextMessage(waPhoneID, from, "Subscriber test", text))
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("webhook answered %d", code)
			}
			return err
		},
	}
	// A subscription that does not work is an error, never a figure.
	if reason := probeSubscriptions(ctx, target); reason != "" {
		return fmt.Errorf("subscriptions: %s", reason)
	}
	nxRun, err := fanOut(ctx, target, subscribers, events)
	if err != nil {
		return fmt.Errorf("neksio: %w", err)
	}
	r.latencyMetrics("commit to delivery", nxRun.lat, blRun.lat)
	r.metric("memory per connection", "KiB", "lower", nxRun.kibPerConn, blRun.kibPerConn)
	r.detail("neksio", nxRun.asMap())
	r.detail("baseline", blRun.asMap())
	r.Note = "commit to delivery = time a subscriber reads the event minus the message's createdAt (stamped inside the ingest transaction, before commit), so it is an upper bound; memory = server RSS growth / subscribers"
	return nil
}

type fanOutTarget struct {
	wsURL, key string
	pid        int
	publish    func(ctx context.Context, k int, text string) error
}

type fanOutRun struct {
	lat          summary
	fromPost     summary
	kibPerConn   float64
	connectSecs  float64
	delivered    int
	expected     int
	rssBeforeMiB float64
	rssAfterMiB  float64
}

func (f *fanOutRun) asMap() map[string]any {
	return map[string]any{"delivered": f.delivered, "expected": f.expected, "connect_seconds": round3(f.connectSecs),
		"post_to_delivery_p50_ms": f.fromPost.P50, "post_to_delivery_p99_ms": f.fromPost.P99,
		"rss_before_mib": round3(f.rssBeforeMiB), "rss_after_mib": round3(f.rssAfterMiB)}
}

// subConn is one subscriber.
type subConn struct {
	c *websocket.Conn
}

// dialSubscriber connects, initialises and subscribes. onNext gets every
// "next" payload with the time it was read; onErr gets a protocol error.
func dialSubscriber(ctx context.Context, t fanOutTarget, onNext func(payload json.RawMessage, at time.Time), onErr func(error)) (*subConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h := http.Header{}
	if t.key != "" {
		h.Set("Authorization", "Bearer "+t.key)
	}
	c, _, err := websocket.Dial(dctx, t.wsURL, &websocket.DialOptions{Subprotocols: []string{wsProtocol}, HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	send := func(v any) error {
		b, _ := json.Marshal(v)
		return c.Write(dctx, websocket.MessageText, b)
	}
	fail := func(err error) (*subConn, error) {
		c.Close(websocket.StatusNormalClosure, "")
		return nil, err
	}
	init := map[string]any{"type": "connection_init"}
	if t.key != "" {
		init["payload"] = map[string]any{"Authorization": "Bearer " + t.key}
	}
	if err := send(init); err != nil {
		return fail(err)
	}
	for {
		_, b, err := c.Read(dctx)
		if err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		var m struct{ Type string }
		_ = json.Unmarshal(b, &m)
		if m.Type == "connection_ack" {
			break
		}
		if m.Type == "ping" {
			_ = send(map[string]any{"type": "pong"})
			continue
		}
		return fail(fmt.Errorf("unexpected %s before connection_ack", b))
	}
	if err := send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": subscriptionQuery}}); err != nil {
		return fail(err)
	}
	go func() {
		for {
			_, b, err := c.Read(ctx)
			at := time.Now()
			if err != nil {
				if ctx.Err() == nil && websocket.CloseStatus(err) != websocket.StatusNormalClosure {
					onErr(err)
				}
				return
			}
			var m struct {
				Type    string
				Payload json.RawMessage
			}
			_ = json.Unmarshal(b, &m)
			switch m.Type {
			case "next":
				onNext(m.Payload, at)
			case "ping":
				_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			case "error", "complete":
				onErr(fmt.Errorf("subscription ended: %s", b))
				return
			}
		}
	}()
	return &subConn{c: c}, nil
}

func (s *subConn) close() { s.c.Close(websocket.StatusNormalClosure, "") }

// nextEvent decodes a messageAdded payload.
func nextEvent(p json.RawMessage) (text string, created time.Time, err error) {
	var v struct {
		Data struct {
			MessageAdded struct {
				Text      string `json:"text"`
				CreatedAt string `json:"createdAt"`
			} `json:"messageAdded"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal(p, &v); err != nil {
		return "", time.Time{}, err
	}
	if len(v.Errors) > 0 {
		return "", time.Time{}, fmt.Errorf("errors in payload: %s", p)
	}
	created, _ = time.Parse(time.RFC3339Nano, v.Data.MessageAdded.CreatedAt)
	return v.Data.MessageAdded.Text, created, nil
}

// probeSubscriptions returns why subscriptions cannot be measured, or "".
func probeSubscriptions(ctx context.Context, t fanOutTarget) string {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan string, 16)
	failed := make(chan error, 16)
	s, err := dialSubscriber(ctx, t, func(p json.RawMessage, _ time.Time) {
		text, _, err := nextEvent(p)
		if err != nil {
			failed <- err
			return
		}
		got <- text
	}, func(err error) { failed <- err })
	if err != nil {
		return "subscribing failed: " + err.Error()
	}
	defer s.close()
	select {
	case err := <-failed:
		return err.Error()
	case <-time.After(time.Second):
	}
	if err := t.publish(ctx, 9_999_999, "bench probe"); err != nil {
		return "publishing failed: " + err.Error()
	}
	select {
	case text := <-got:
		if text != "bench probe" {
			return fmt.Sprintf("first event was %q, not the probe", text)
		}
		return ""
	case err := <-failed:
		return err.Error()
	case <-time.After(10 * time.Second):
		return "no event within 10s of a committed webhook"
	}
}

// fanOut connects n subscribers to t, publishes events one at a time
// (the next after every subscriber has the previous or 30s passed), and
// measures delivery latency and the target's memory growth.
func fanOut(ctx context.Context, t fanOutTarget, n, events int) (*fanOutRun, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &fanOutRun{expected: n * events}
	type event struct {
		posted   time.Time
		received atomic.Int64
		done     chan struct{}
	}
	var mu sync.Mutex
	evs := map[string]*event{}
	var fromCommit, fromPost latencies
	var errCount atomic.Int64
	var firstErr atomic.Value
	onNext := func(p json.RawMessage, at time.Time) {
		text, created, err := nextEvent(p)
		if err != nil {
			errCount.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		mu.Lock()
		ev := evs[text]
		mu.Unlock()
		if ev == nil {
			return // the warm-up or another writer's message
		}
		fromPost.add(at.Sub(ev.posted))
		if !created.IsZero() {
			fromCommit.add(at.Sub(created))
		}
		if ev.received.Add(1) == int64(n) {
			close(ev.done)
		}
	}
	onErr := func(err error) {
		errCount.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	time.Sleep(500 * time.Millisecond)
	before, err := rssBytes(t.pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	conns := make([]*subConn, n)
	var next atomic.Int64
	var dialErr error
	var dialOnce sync.Once
	var wg sync.WaitGroup
	for range min(n, 64) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialSubscriber(ctx, t, onNext, onErr)
				if err != nil {
					dialOnce.Do(func() { dialErr = fmt.Errorf("subscriber %d: %w", i, err); cancel() })
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
	}()
	if dialErr != nil {
		return nil, dialErr
	}
	run.connectSecs = time.Since(t0).Seconds()
	// Subscriptions register after the subscribe message; let them settle.
	time.Sleep(time.Second + time.Duration(n/10)*time.Millisecond/10)
	after, err := rssBytes(t.pid)
	if err != nil {
		return nil, err
	}
	run.rssBeforeMiB, run.rssAfterMiB = float64(before)/(1<<20), float64(after)/(1<<20)
	run.kibPerConn = float64(after-before) / 1024 / float64(n)
	for k := range events + 1 {
		ev := &event{done: make(chan struct{})}
		text := fmt.Sprintf("bench event %d", k)
		if k > 0 { // event 0 warms the path and is not counted
			mu.Lock()
			evs[text] = ev
			mu.Unlock()
		}
		ev.posted = time.Now()
		if err := t.publish(ctx, k, text); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		if k == 0 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		select {
		case <-ev.done:
		case <-time.After(30 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		run.delivered += int(ev.received.Load())
	}
	if run.delivered == 0 {
		msg, _ := firstErr.Load().(string)
		return nil, fmt.Errorf("no event delivered (%d errors; first: %s)", errCount.Load(), msg)
	}
	run.fromPost = fromPost.summary()
	run.lat = fromCommit.summary()
	if run.lat.N == 0 {
		run.lat = run.fromPost
	}
	return run, nil
}

// wsBaselineArg makes this binary serve the baseline fan-out server.
const wsBaselineArg = "ws-baseline-server"

// startWSBaseline runs the baseline fan-out server (serveWSBaseline).
func startWSBaseline(e *runEnv) (*childServer, error) { return startChild(e, wsBaselineArg) }

// serveWSBaseline is the baseline fan-out server: it acknowledges
// connection_init, registers subscribe, and on POST /publish sends a
// messageAdded "next" (stamped with the time it handled the publish) to
// every subscriber through its writer goroutine. It prints its address.
func serveWSBaseline() {
	type sub struct {
		id string
		ch chan []byte
	}
	var mu sync.RWMutex
	subs := map[*sub]struct{}{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsProtocol}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		s := &sub{ch: make(chan []byte, 16)}
		defer func() { mu.Lock(); delete(subs, s); mu.Unlock() }()
		go func() {
			for {
				select {
				case b := <-s.ch:
					if c.Write(ctx, websocket.MessageText, b) != nil {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ ID, Type string }
			_ = json.Unmarshal(b, &m)
			switch m.Type {
			case "connection_init":
				s.ch <- []byte(`{"type":"connection_ack"}`)
			case "ping":
				s.ch <- []byte(`{"type":"pong"}`)
			case "subscribe":
				s.id = m.ID
				mu.Lock()
				subs[s] = struct{}{}
				mu.Unlock()
			}
		}
	})
	var seq atomic.Int64
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		text, _ := io.ReadAll(r.Body)
		now := time.Now()
		mu.RLock()
		defer mu.RUnlock()
		id := seq.Add(1)
		for s := range subs {
			b, _ := json.Marshal(map[string]any{"id": s.id, "type": "next", "payload": map[string]any{"data": map[string]any{
				"messageAdded": map[string]any{"id": fmt.Sprint(id), "text": string(text), "createdAt": now.Format(time.RFC3339Nano)}}}})
			select {
			case s.ch <- b:
			default: // a slow subscriber misses it, as a real server would drop or close
			}
		}
	})
	ln, err := netListen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
