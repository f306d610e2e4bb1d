package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
)

const analyticsTZ = "Europe/Berlin"

// The baseline: the same figures from the base tables in hand-written SQL
// (counts, and first response times from each conversation's first
// inbound and first outbound message).
const analyticsSummarySQL = `SELECT
  (SELECT count(*) FROM conversations WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3),
  (SELECT count(*) FROM messages WHERE workspace_id = $1 AND sent_at >= $2 AND sent_at < $3 AND direction = 'INBOUND'),
  (SELECT count(*) FROM messages WHERE workspace_id = $1 AND sent_at >= $2 AND sent_at < $3 AND direction = 'OUTBOUND'
     AND delivery_status NOT IN ('DRAFT', 'DISCARDED')),
  (SELECT count(*) FROM audit_logs WHERE workspace_id = $1 AND action = 'conversation.resolve' AND created_at >= $2 AND created_at < $3),
  (SELECT coalesce(avg(extract(epoch FROM fr - fi)), 0) FROM (
     SELECT min(sent_at) FILTER (WHERE direction = 'INBOUND') fi, min(sent_at) FILTER (WHERE direction = 'OUTBOUND') fr
     FROM messages WHERE workspace_id = $1 AND sent_at < $3 GROUP BY conversation_id) x
   WHERE fr >= $2 AND fr < $3 AND fr > fi)`

const analyticsDailySQL = `SELECT date_trunc('day', sent_at AT TIME ZONE '` + analyticsTZ + `') d,
  count(*) FILTER (WHERE direction = 'INBOUND'), count(*) FILTER (WHERE direction = 'OUTBOUND')
FROM messages WHERE workspace_id = $1 AND sent_at >= $2 AND sent_at < $3 GROUP BY 1 ORDER BY 1`

// benchAnalytics seeds a workspace with 90 days of conversations, then
// times the 90-day summary (with the previous period and the
// percentiles) and the daily timeseries read from rollups plus the tail,
// against the same aggregates in SQL over the base tables.
func benchAnalytics(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "Analytics: the 90-day summary and daily timeseries"
	r.Baseline = "the same counts and average first response time from the base tables in hand-written SQL (pgx), same run"
	msgs := e.cfg.sized(1_000_000, 2_000)
	convs := max(1, msgs/10)
	samples := max(5, e.cfg.sized(40, 5))
	r.param("messages", msgs)
	r.param("conversations", convs)
	r.param("days", 90)
	r.param("samples", samples)
	r.param("timezone", analyticsTZ)

	dbURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	if _, err := e.cli(ctx, dbURL, "migrate"); err != nil {
		return err
	}
	now := time.Now().UTC()
	t0 := time.Now()
	ws, err := seedAnalytics(ctx, dbURL, convs, msgs, now)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	r.detail("seed_seconds", round3(time.Since(t0).Seconds()))

	s, err := store.OpenPostgres(ctx, dbURL)
	if err != nil {
		return err
	}
	defer s.Close()
	svc := &analytics.Service{Store: s, Now: func() time.Time { return now }}
	t0 = time.Now()
	res, err := svc.Roll(ctx, ws, true)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	r.detail("rebuild_seconds", round3(time.Since(t0).Seconds()))
	r.detail("rollup_rows", res.Rows)
	var buckets int
	if err := s.DB.QueryRowContext(ctx, "SELECT count(*) FROM analytics_histograms WHERE workspace_id = $1", ws).Scan(&buckets); err != nil {
		return err
	}
	r.detail("histogram_rows", buckets)
	r.detail("facts", res.Facts)

	loc, _ := time.LoadLocation(analyticsTZ)
	lt := now.In(loc)
	to := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc)
	from := time.Date(lt.Year(), lt.Month(), lt.Day()-89, 0, 0, 0, 0, loc)
	req := analytics.Request{Range: analytics.Range{From: from, To: to, Timezone: analyticsTZ}}
	vctx := tenant.NewContext(ctx, tenant.Member(ws, tenant.RoleAdmin, "key_bench", ""))
	summary := func(svc *analytics.Service) (analytics.Summary, error) {
		rep, err := svc.Open(vctx, req)
		if err != nil {
			return nil, err
		}
		return rep.Summary(vctx)
	}
	daily := func() ([]analytics.Series, error) {
		rep, err := svc.Open(vctx, req)
		if err != nil {
			return nil, err
		}
		return rep.Timeseries(vctx, []analytics.Metric{"MESSAGES_IN", "MESSAGES_OUT", "CONVERSATIONS_OPENED"}, analytics.Day)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	sqlSummary := func() (in int64, err error) {
		var opened, out, resolved int64
		var frt float64
		err = pool.QueryRow(ctx, analyticsSummarySQL, ws, from, to).Scan(&opened, &in, &out, &resolved, &frt)
		return in, err
	}
	sqlDaily := func() (int, error) {
		rows, err := pool.Query(ctx, analyticsDailySQL, ws, from, to)
		if err != nil {
			return 0, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		return n, rows.Err()
	}

	// Correctness first: rollups, the base tables and SQL agree.
	got, err := summary(svc)
	if err != nil {
		return err
	}
	want, err := sqlSummary()
	if err != nil {
		return err
	}
	if v := got["MESSAGES_IN"].Value; v == nil || int64(*v) != want {
		return fmt.Errorf("messages in: rollups say %v, SQL %d", v, want)
	}
	t0 = time.Now()
	fromBase, err := summary(&analytics.Service{Store: s, NoRollups: true, Now: svc.Now})
	if err != nil {
		return err
	}
	r.detail("summary_from_base_tables_in_go_ms", round3(float64(time.Since(t0).Microseconds())/1000))
	for k, f := range got {
		b := fromBase[k]
		if (f.Value == nil) != (b.Value == nil) || (f.Value != nil && *f.Value != *b.Value) {
			return fmt.Errorf("%s: rollups %v, base tables %v", k, f.Value, b.Value)
		}
	}

	var nSum, bSum, nDay, bDay latencies
	for range samples {
		t := time.Now()
		if _, err := summary(svc); err != nil {
			return err
		}
		nSum.add(time.Since(t))
		t = time.Now()
		if _, err := sqlSummary(); err != nil {
			return err
		}
		bSum.add(time.Since(t))
		t = time.Now()
		if _, err := daily(); err != nil {
			return err
		}
		nDay.add(time.Since(t))
		t = time.Now()
		if _, err := sqlDaily(); err != nil {
			return err
		}
		bDay.add(time.Since(t))
	}
	r.latencyMetrics("90-day summary", nSum.summary(), bSum.summary())
	r.latencyMetrics("90-day daily timeseries", nDay.summary(), bDay.summary())
	return nil
}

// seedAnalytics copies one workspace's conversations over the 90 days
// before now: ten messages each, alternating customer and person a minute
// or more apart, every other conversation resolved.
func seedAnalytics(ctx context.Context, dbURL string, nConv, nMsg int, now time.Time) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return "", err
	}
	ws, ch := string(pulid.New("ws")), string(pulid.New("ch"))
	start := now.Add(-90 * 24 * time.Hour)
	step := (90 * 24 * time.Hour) / time.Duration(nConv)
	if _, err := conn.Exec(ctx, `INSERT INTO workspaces (id, created_at, updated_at, name) VALUES ($1, $2, $2, 'Bench analytics')`, ws, start); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `INSERT INTO channels (id, created_at, updated_at, connector, platform, external_id, name, status, ai_mode, workspace_id)
		VALUES ($1, $2, $2, 'whatsapp', 'whatsapp', 'bench', 'Bench', 'ACTIVE', 'OFF', $3)`, ch, start, ws); err != nil {
		return "", err
	}
	per := max(1, nMsg/nConv)
	type conv struct {
		id      string
		created time.Time
	}
	cs := make([]conv, nConv)
	var cvRows, auRows [][]any
	for i := range cs {
		c := conv{id: string(pulid.New("cv")), created: start.Add(time.Duration(i) * step)}
		cs[i] = c
		last := c.created.Add(time.Duration(per) * 3 * time.Minute)
		status := "OPEN"
		if i%2 == 0 {
			status = "RESOLVED"
			auRows = append(auRows, []any{string(pulid.New("aud")), ws, "user:usr_bench", "conversation.resolve", "Conversation", c.id,
				last.Add(10 * time.Minute)})
		}
		cvRows = append(cvRows, []any{c.id, c.created, c.created, "DIRECT_MESSAGE", fmt.Sprintf("t%d", i), status, last, last, ws, ch})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"conversations"}, []string{"id", "created_at", "updated_at", "kind", "thread_id", "status",
		"last_message_at", "last_inbound_at", "workspace_id", "channel_id"}, pgx.CopyFromRows(cvRows)); err != nil {
		return "", fmt.Errorf("copy conversations: %w", err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"audit_logs"}, []string{"id", "workspace_id", "actor", "action", "target_type", "target_id",
		"created_at"}, pgx.CopyFromRows(auRows)); err != nil {
		return "", fmt.Errorf("copy audit logs: %w", err)
	}
	ci, mi := 0, 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if mi == per {
			ci, mi = ci+1, 0
		}
		if ci == len(cs) {
			return nil, nil
		}
		c := cs[ci]
		sent := c.created.Add(time.Duration(mi*3+ci%3) * time.Minute)
		dir, author, authorID, status := "INBOUND", "CONTACT", "", "RECEIVED"
		if mi%2 == 1 {
			dir, author, authorID, status = "OUTBOUND", "AGENT", "user:usr_bench", "SENT"
		}
		mi++
		return []any{string(pulid.New("msg")), sent, sent, ch, dir, author, authorID, "text", "Where is my order?", status, sent, ws, c.id}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"messages"}, []string{"id", "created_at", "updated_at", "channel_id", "direction", "author_kind",
		"author_id", "type", "text", "delivery_status", "sent_at", "workspace_id", "conversation_id"}, src); err != nil {
		return "", fmt.Errorf("copy messages: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return "", err
	}
	return ws, nil
}
