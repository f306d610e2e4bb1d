package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neksio/neksio/ent/schema/pulid"
)

const inboxQuery = `query Inbox { conversations(first: 50, where: {status: OPEN}, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
  edges { node { id status lastMessageAt
    contact { id name }
    messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}) { edges { node { id text direction sentAt } } } } }
  pageInfo { hasNextPage endCursor } } }`

// inboxNoPageInfoQuery is the inbox without pageInfo. entgql used to run
// a COUNT over the filtered conversations whenever pageInfo was selected;
// Neksio's templates (ent/template) count only for totalCount, and this
// variant shows that pageInfo now costs nothing.
const inboxNoPageInfoQuery = `query InboxNoPageInfo { conversations(first: 50, where: {status: OPEN}, orderBy: {field: LAST_MESSAGE_AT, direction: DESC}) {
  edges { cursor node { id status lastMessageAt
    contact { id name }
    messages(first: 1, orderBy: {field: SENT_AT, direction: DESC}) { edges { node { id text direction sentAt } } } } } } }`

const inboxSQL = `SELECT c.id, c.status, c.last_message_at, ct.id, ct.name, m.id, m.text, m.direction, m.sent_at
FROM conversations c
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN LATERAL (SELECT id, text, direction, sent_at FROM messages
	WHERE messages.conversation_id = c.id ORDER BY sent_at DESC LIMIT 1) m ON true
WHERE c.workspace_id = $1 AND c.status = 'OPEN'
ORDER BY c.last_message_at DESC, c.id DESC
LIMIT 51`

const threadQuery = `query Thread($id: ID!) { node(id: $id) { ... on Conversation {
  messages(first: 50) { edges { node { id text direction sentAt deliveryStatus } } pageInfo { hasNextPage endCursor } } } } }`

// lastMessageQuery is a conversation's last message: its cost must not
// grow with the conversation's length.
const lastMessageQuery = `query Last($id: ID!) { node(id: $id) { ... on Conversation {
  messages(last: 1) { edges { node { id text direction sentAt } } } } } }`

const threadSQL = `SELECT id, text, direction, sent_at, delivery_status FROM messages
WHERE conversation_id = $1 AND workspace_id = $2 ORDER BY id LIMIT 51`

// benchReads seeds conversations and messages with COPY, then runs the
// inbox and thread queries over GraphQL and as hand-written SQL.
func benchReads(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "GraphQL reads: the inbox and a thread"
	r.Baseline = "the equivalent hand-written SQL through pgx (one query each: a LATERAL join for the inbox), same concurrency; " +
		"\"thread vs a hand-written HTTP handler\" rows: the thread's SQL behind a Go net/http handler in a process of its own, decoding the same POST and writing the same JSON with encoding/json"
	const workspaces = 10
	convs := e.cfg.sized(100_000, workspaces*10)
	msgs := e.cfg.sized(1_000_000, workspaces*100)
	concurrency := 8
	round := e.cfg.timed(5*time.Second, 300*time.Millisecond)
	const rounds = 2
	r.param("workspaces", workspaces)
	r.param("conversations", convs)
	r.param("messages", msgs)
	r.param("concurrency", concurrency)
	r.param("seconds_each", (rounds * round).Seconds())

	dbURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	if _, err := e.cli(ctx, dbURL, "migrate"); err != nil {
		return err
	}
	t0 := time.Now()
	seed, err := seedReads(ctx, dbURL, workspaces, convs, msgs)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	r.detail("seed_seconds", round3(time.Since(t0).Seconds()))
	key, err := e.cli(ctx, dbURL, "apikey", "create", "--workspace", seed.workspaces[0], "--name", "bench")
	if err != nil {
		return err
	}
	// One API server for timing, one behind the counting proxy.
	noConnectors := []string{"NEKSIO_ROLE=api", "NEKSIO_CONNECTORS= "}
	srv, err := e.startServer(ctx, dbURL, noConnectors...)
	if err != nil {
		return err
	}
	u, _ := url.Parse(dbURL)
	proxy, err := newPGProxy(u.Host)
	if err != nil {
		return err
	}
	defer proxy.close()
	pu := *u
	pu.Host = proxy.addr()
	counted, err := e.startServer(ctx, pu.String(), noConnectors...)
	if err != nil {
		return err
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	ws0, long, short := seed.workspaces[0], seed.longConversation, seed.shortConversation
	gqlInbox := srv.gqlCheck(key, inboxQuery, nil)
	gqlInboxNoPI := srv.gqlCheck(key, inboxNoPageInfoQuery, nil)
	gqlThread := srv.gqlCheck(key, threadQuery, map[string]any{"id": long})
	gqlLastLong := srv.gqlCheck(key, lastMessageQuery, map[string]any{"id": long})
	gqlLastShort := srv.gqlCheck(key, lastMessageQuery, map[string]any{"id": short})
	sqlInbox := func(ctx context.Context, _ int) error { return scanInbox(ctx, pool, ws0) }
	sqlThread := func(ctx context.Context, _ int) error { return scanThread(ctx, pool, long, ws0) }
	tb, err := startThreadBaseline(e, dbURL)
	if err != nil {
		return err
	}
	handler := &server{URL: tb.url, client: srv.client}
	handlerVars := map[string]any{"id": long, "workspace": ws0}
	handlerThread := handler.gqlCheck("", "", handlerVars)

	// Correctness first: a full page with contacts and last messages.
	data, err := srv.gql(ctx, key, inboxQuery, nil)
	if err != nil {
		return fmt.Errorf("inbox query: %w", err)
	}
	edges, _ := dig(data, "conversations", "edges").([]any)
	wantPage := min(50, seed.openPerWorkspace)
	if len(edges) != wantPage || dig(edges[0], "node", "contact", "name") == nil || dig(edges[0], "node", "messages", "edges", 0, "node", "text") == nil {
		return fmt.Errorf("inbox query: want %d conversations with contact and last message, got %d: %.300v", wantPage, len(edges), edges)
	}
	data, err = srv.gql(ctx, key, threadQuery, map[string]any{"id": long})
	if err != nil {
		return fmt.Errorf("thread query: %w", err)
	}
	if got, _ := dig(data, "node", "messages", "edges").([]any); len(got) != min(50, seed.longMessages) {
		return fmt.Errorf("thread query: want %d messages, got %d", min(50, seed.longMessages), len(got))
	}
	// The hand-written handler answers with the same messages.
	hdata, err := handler.gql(ctx, "", "", handlerVars)
	if err != nil {
		return fmt.Errorf("thread baseline handler: %w", err)
	}
	if want, got := dig(data, "node", "messages", "edges"), dig(hdata, "node", "messages", "edges"); !reflect.DeepEqual(want, got) {
		return fmt.Errorf("thread baseline handler: its messages differ from Neksio's: %.300v", got)
	}

	type pair struct {
		name         string
		neksio, base func(context.Context, int) error
		// baseServer is the baseline's process group when it is a server
		// (Neksio itself, or the hand-written handler).
		baseServer   int
		nLat, bLat   latencies
		nN, bN       int
		nTime, bTime time.Duration
	}
	pairs := []*pair{{name: "inbox", neksio: gqlInbox, base: sqlInbox}, {name: "inbox without pageInfo", neksio: gqlInboxNoPI, base: sqlInbox},
		{name: "thread", neksio: gqlThread, base: sqlThread},
		// The same thread against a hand-written Go HTTP handler running
		// the same SQL and writing the same JSON: what GraphQL and ent
		// cost over paying for HTTP and JSON at all.
		{name: "thread vs a hand-written HTTP handler", neksio: gqlThread, base: handlerThread, baseServer: tb.pid()},
		// Both sides are Neksio: the ratio is what a long history costs.
		{name: "last message of a long conversation (vs a short one)", neksio: gqlLastLong, base: gqlLastShort, baseServer: srv.cmd.Process.Pid}}
	// CPU per request by process (server, PostgreSQL, the load generator):
	// the counting server behind the proxy is idle during the rounds.
	cpuPerRequest := map[string]any{}
	for _, p := range pairs {
		nCPU, bCPU := &cpuMeter{dbURL: dbURL, server: srv.cmd.Process.Pid}, &cpuMeter{dbURL: dbURL, server: p.baseServer}
		for _, f := range []func(context.Context, int) error{p.neksio, p.base} {
			if _, _, err := load(ctx, concurrency, 0, concurrency*5, f, nil); err != nil {
				return fmt.Errorf("%s warm-up: %w", p.name, err)
			}
		}
		for range rounds {
			bCPU.start(ctx)
			n, el, err := load(ctx, concurrency, round, 0, p.base, &p.bLat)
			bCPU.stop(ctx)
			if err != nil {
				return fmt.Errorf("%s baseline: %w", p.name, err)
			}
			p.bN, p.bTime = p.bN+n, p.bTime+el
			nCPU.start(ctx)
			n, el, err = load(ctx, concurrency, round, 0, p.neksio, &p.nLat)
			nCPU.stop(ctx)
			if err != nil {
				return fmt.Errorf("%s graphql: %w", p.name, err)
			}
			p.nN, p.nTime = p.nN+n, p.nTime+el
		}
		cpuPerRequest[p.name] = map[string]any{"neksio": nCPU.perOperation(p.nN), "baseline": bCPU.perOperation(p.bN)}
		r.metric(p.name+" requests per second", "1/s", "higher", float64(p.nN)/p.nTime.Seconds(), float64(p.bN)/p.bTime.Seconds())
		r.latencyMetrics(p.name+" latency", p.nLat.summary(), p.bLat.summary())
	}

	r.detail("cpu_ms_per_request", cpuPerRequest)

	// SQL statements per GraphQL request, on the server behind the proxy.
	const samples = 20
	stmts := map[string]any{}
	var n1 []string
	for _, q := range []struct {
		name, query string
		vars        map[string]any
	}{{"inbox", inboxQuery, nil}, {"inbox without pageInfo", inboxNoPageInfoQuery, nil}, {"thread", threadQuery, map[string]any{"id": long}}} {
		for range 3 { // warm: statement cache, key cache
			if err := checkGQL(counted.gqlRaw(ctx, key, q.query, q.vars)); err != nil {
				return fmt.Errorf("%s via proxy: %w", q.name, err)
			}
		}
		proxy.reset()
		for range samples {
			if err := checkGQL(counted.gqlRaw(ctx, key, q.query, q.vars)); err != nil {
				return fmt.Errorf("%s via proxy: %w", q.name, err)
			}
		}
		total, by := proxy.reset()
		shapes := map[string]float64{}
		for sql, c := range by {
			per := float64(c) / samples
			shapes[shorten(sql, 220)] = per
			if per > 3 {
				n1 = append(n1, fmt.Sprintf("%s: %.1f× per request: %s", q.name, per, shorten(sql, 300)))
			}
		}
		stmts[q.name] = map[string]any{"per_request": float64(total) / samples, "by_statement": shapes}
		r.metric(q.name+" SQL statements per request", "statements", "lower", float64(total)/samples, 1)
	}
	r.detail("sql_statements", stmts)
	if len(n1) > 0 {
		sort.Strings(n1)
		r.Note = "N+1: " + strings.Join(n1, " | ")
	} else {
		r.Note = "no N+1: every statement runs at most once per request, whatever the page size (counted by a PostgreSQL wire-protocol proxy; the counts include the API-key lookup when it is not cached). Only totalCount adds a COUNT over the whole filtered set; pageInfo comes from the page itself (LIMIT first+1). Each conversation's last message is one LATERAL statement for the page (see sql_statements). The last-message row compares Neksio with itself: messages(last: 1) of a long conversation against a short one"
	}
	return nil
}

// checkGQL is the load loop's check of an answer: data and no GraphQL
// errors. An answer that starts with a non-null "data", ends its object
// (a body cut short fails in gqlRaw's read already) and holds no
// "errors" key anywhere (a string value cannot hold `"errors":`, its
// quotes would be escaped) is accepted as it is; any other answer is
// decoded in full for its error messages. The answers' content is checked
// once before the load (the correctness checks above); the loop does not
// parse each answer again, because that cost the bench process, which
// shares the machine's two cores with the server, about as much CPU per
// inbox answer as the baseline's whole request (BenchmarkCheckAnswer,
// docs/benchmarks.md).
func checkGQL(raw []byte, err error) error {
	if err != nil {
		return err
	}
	if bytes.HasPrefix(raw, []byte(`{"data":{`)) && bytes.HasSuffix(bytes.TrimSpace(raw), []byte("}")) && !bytes.Contains(raw, []byte(`"errors":`)) {
		return nil
	}
	var res gqlResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("graphql: %w: %s", err, shorten(string(raw), 300))
	}
	if err := res.err(); err != nil {
		return err
	}
	if res.Data == nil {
		return fmt.Errorf("graphql: no data: %s", shorten(string(raw), 300))
	}
	return nil
}

func scanInbox(ctx context.Context, pool *pgxpool.Pool, ws string) error {
	rows, err := pool.Query(ctx, inboxSQL, ws)
	if err != nil {
		return err
	}
	type row struct {
		id, status             string
		last                   time.Time
		ctID, ctName           *string
		mID, mText, mDirection *string
		mSent                  *time.Time
	}
	var out []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.status, &x.last, &x.ctID, &x.ctName, &x.mID, &x.mText, &x.mDirection, &x.mSent); err != nil {
			return err
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(out) == 0 {
		return fmt.Errorf("inbox baseline: no rows")
	}
	return nil
}

func scanThread(ctx context.Context, pool *pgxpool.Pool, conv, ws string) error {
	rows, err := pool.Query(ctx, threadSQL, conv, ws)
	if err != nil {
		return err
	}
	type row struct {
		id, text, direction, status string
		sent                        time.Time
	}
	var out []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.text, &x.direction, &x.sent, &x.status); err != nil {
			return err
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(out) == 0 {
		return fmt.Errorf("thread baseline: no rows")
	}
	return nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type readSeed struct {
	workspaces       []string
	longConversation string
	// shortConversation has about msgs/convs messages.
	shortConversation string
	longMessages      int
	openPerWorkspace  int
}

// seedReads writes workspaces, one WhatsApp channel each, one contact per
// conversation, and the messages, with COPY. Foreign-key triggers are off
// for the session (the rows are consistent by construction); ANALYZE runs
// at the end so the planner sees the real sizes. The first conversation of
// each workspace is long (a full page of messages); half the
// conversations are OPEN.
func seedReads(ctx context.Context, dbURL string, nWS, nConv, nMsg int) (*readSeed, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return nil, err
	}
	convPerWS, msgPerWS := nConv/nWS, nMsg/nWS
	long := min(200, msgPerWS/2)
	seed := &readSeed{longMessages: long}
	base := time.Now().Add(-30 * 24 * time.Hour)

	type conv struct {
		id, contact, thread, status string
		last                        time.Time
		n                           int
	}
	var wsRows, chRows, ctRows, cvRows [][]any
	var convs []conv
	var channels []string
	for w := range nWS {
		ws, ch := string(pulid.New("ws")), string(pulid.New("ch"))
		seed.workspaces = append(seed.workspaces, ws)
		channels = append(channels, ch)
		wsRows = append(wsRows, []any{ws, base, base, fmt.Sprintf("Bench workspace %d", w)})
		chRows = append(chRows, []any{ch, base, base, "whatsapp", "whatsapp", fmt.Sprintf("seed-%d", w), "Seed", "ACTIVE", "OFF", ws})
		rest := msgPerWS - long
		for j := range convPerWS {
			c := conv{id: string(pulid.New("cv")), contact: string(pulid.New("ct")), thread: fmt.Sprintf("1%03d%07d", w, j)}
			switch {
			case j == 0:
				c.n = long
			default:
				c.n = rest / (convPerWS - 1)
				if j-1 < rest%(convPerWS-1) {
					c.n++
				}
			}
			c.status = []string{"OPEN", "OPEN", "PENDING", "RESOLVED"}[j%4]
			if w == 0 && c.status == "OPEN" {
				seed.openPerWorkspace++
			}
			c.last = base.Add(time.Duration(j*37%convPerWS) * time.Minute).Add(time.Duration(c.n) * time.Minute)
			if w == 0 && j == 0 {
				seed.longConversation = c.id
			}
			if w == 0 && j == 1 {
				seed.shortConversation = c.id
			}
			ctRows = append(ctRows, []any{c.contact, base, base, c.thread, fmt.Sprintf("Customer %d-%d", w, j), "+" + c.thread, ws, ch})
			cvRows = append(cvRows, []any{c.id, base, base, "DIRECT_MESSAGE", c.thread, c.status, c.last, c.last, ws, ch, c.contact})
			convs = append(convs, c)
		}
	}
	copyRows := func(table string, cols []string, rows [][]any) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return nil
	}
	if err := copyRows("workspaces", []string{"id", "created_at", "updated_at", "name"}, wsRows); err != nil {
		return nil, err
	}
	if err := copyRows("channels", []string{"id", "created_at", "updated_at", "connector", "platform", "external_id", "name", "status", "ai_mode", "workspace_id"}, chRows); err != nil {
		return nil, err
	}
	if err := copyRows("contacts", []string{"id", "created_at", "updated_at", "external_id", "name", "phone", "workspace_id", "channel_id"}, ctRows); err != nil {
		return nil, err
	}
	if err := copyRows("conversations", []string{"id", "created_at", "updated_at", "kind", "thread_id", "status", "last_message_at", "last_inbound_at", "workspace_id", "channel_id", "contact_id"}, cvRows); err != nil {
		return nil, err
	}
	// Messages are generated as they are copied.
	ci, mi, total := 0, 0, 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for ci < len(convs) && mi >= convs[ci].n {
			ci, mi = ci+1, 0
		}
		if ci == len(convs) {
			return nil, nil
		}
		c := convs[ci]
		w := ci / convPerWS
		sent := c.last.Add(-time.Duration(c.n-1-mi) * time.Minute)
		dir, author, status := "INBOUND", "CONTACT", "RECEIVED"
		if mi%2 == 1 {
			dir, author, status = "OUTBOUND", "AGENT", "SENT"
		}
		row := []any{string(pulid.New("msg")), sent, sent, channels[w], dir, author, "text",
			fmt.Sprintf("Message %d about order #%d: could you check where my delivery is, please?", mi, 100000+ci),
			fmt.Sprintf("wamid.seed.%d.%d", ci, mi), status, sent, seed.workspaces[w], c.id, c.contact}
		mi++
		total++
		return row, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"messages"}, []string{"id", "created_at", "updated_at", "channel_id", "direction", "author_kind", "type", "text",
		"external_id", "delivery_status", "sent_at", "workspace_id", "conversation_id", "contact_id"}, src); err != nil {
		return nil, fmt.Errorf("copy messages: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return nil, err
	}
	return seed, nil
}
