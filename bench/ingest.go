package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// benchIngest: signed webhooks from N concurrent senders against the same
// rows written through pgx, in alternating rounds.
func benchIngest(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "WhatsApp webhook ingestion over HTTP on PostgreSQL"
	r.Baseline = "the same rows (contact upsert, conversation upsert, message insert) in one pgx transaction per delivery, same concurrency, same database server; " +
		"\"with job\" rows: the same transaction also inserts a River job (riverpgxv5, insert-only client) and sends a pg_notify, as Neksio's did until its change events went through an outbox table (docs/realtime.md)"
	senders := 16
	contacts := e.cfg.sized(2000, 20)
	round := e.cfg.timed(10*time.Second, 500*time.Millisecond)
	const rounds = 2
	r.param("senders", senders)
	r.param("distinct_contacts", contacts)
	r.param("seconds_each", (rounds * round).Seconds())
	r.param("rounds", rounds)

	// Neksio: `neksio serve` (role all: API, workers, connector plugins).
	nxURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	srv, err := e.startServer(ctx, nxURL)
	if err != nil {
		return err
	}
	if srv.Key == "" {
		return errors.New("no owner key printed on first start")
	}
	// AI off: this measures ingestion, not the agent (benchmark "agent").
	if _, err := srv.connectWhatsApp(ctx, "OFF"); err != nil {
		return err
	}

	// Baseline: the same schema, rows written by hand.
	blURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	if _, err := e.cli(ctx, blURL, "migrate"); err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(blURL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = int32(senders)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ws, ch, err := seedChannel(ctx, pool)
	if err != nil {
		return err
	}
	// Baseline with job: its own database, so its river_job table grows
	// alone.
	bjURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	if _, err := e.cli(ctx, bjURL, "migrate"); err != nil {
		return err
	}
	jcfg, err := pgxpool.ParseConfig(bjURL)
	if err != nil {
		return err
	}
	jcfg.MaxConns = int32(senders)
	jpool, err := pgxpool.NewWithConfig(ctx, jcfg)
	if err != nil {
		return err
	}
	defer jpool.Close()
	jws, jch, err := seedChannel(ctx, jpool)
	if err != nil {
		return err
	}
	jobs, err := river.NewClient(riverpgxv5.New(jpool), &river.Config{})
	if err != nil {
		return err
	}

	from := func(i int) string { return fmt.Sprintf("1650%07d", i%contacts) }
	neksio := func(ctx context.Context, i int) error {
		f := from(i)
		body := wasandbox.TextMessage(waPhoneID, f, "Customer "+f, "Hello, is the shop open on Sunday?")
		code, err := srv.webhook(ctx, body)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("webhook answered %d", code)
		}
		return nil
	}
	baseline := func(ctx context.Context, i int) error {
		f := from(i)
		return insertDelivery(ctx, pool, ws, ch, f, "Customer "+f, wasandbox.NewWAMID(), "Hello, is the shop open on Sunday?", time.Now(), nil)
	}
	withJob := func(ctx context.Context, i int) error {
		f := from(i)
		return insertDelivery(ctx, jpool, jws, jch, f, "Customer "+f, wasandbox.NewWAMID(), "Hello, is the shop open on Sunday?", time.Now(), jobAndNotify(jobs, jws))
	}
	// Warm both: connections, prepared statements, the plugin.
	if _, _, err := load(ctx, senders, 0, senders*4, neksio, nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, _, err := load(ctx, senders, 0, senders*4, baseline, nil); err != nil {
		return fmt.Errorf("warm-up baseline: %w", err)
	}
	if _, _, err := load(ctx, senders, 0, senders*4, withJob, nil); err != nil {
		return fmt.Errorf("warm-up baseline with job: %w", err)
	}
	var nxLat, blLat, bjLat latencies
	var nxN, blN, bjN int
	var nxT, blT, bjT time.Duration
	var errs int
	var loadStopped time.Time
	nxCPU := &cpuMeter{dbURL: nxURL, server: srv.cmd.Process.Pid}
	blCPU, bjCPU := &cpuMeter{dbURL: blURL}, &cpuMeter{dbURL: bjURL}
	for range rounds {
		// Planner statistics, as autovacuum keeps them on a production
		// server: the tables start empty, and a PostgreSQL run with
		// autovacuum off (as CI's often is) never analyzes them, so
		// every plan would be made for empty tables (docs/benchmarks.md,
		// ingest). Every database, before each round, outside the timed
		// load; BENCH_INGEST_ANALYZE=0 leaves them as they are.
		if os.Getenv("BENCH_INGEST_ANALYZE") != "0" {
			for _, u := range []string{blURL, bjURL, nxURL} {
				if err := execDB(ctx, u, "ANALYZE"); err != nil {
					return fmt.Errorf("analyze: %w", err)
				}
			}
		}
		blCPU.start(ctx)
		n, el, err := load(ctx, senders, round, 0, baseline, &blLat)
		blCPU.stop(ctx)
		if err != nil {
			errs++
			r.detail("baseline_error", err.Error())
		}
		blN, blT = blN+n, blT+el
		bjCPU.start(ctx)
		n, el, err = load(ctx, senders, round, 0, withJob, &bjLat)
		bjCPU.stop(ctx)
		if err != nil {
			errs++
			r.detail("baseline_with_job_error", err.Error())
		}
		bjN, bjT = bjN+n, bjT+el
		nxCPU.start(ctx)
		n, el, err = load(ctx, senders, round, 0, neksio, &nxLat)
		loadStopped = time.Now()
		nxCPU.stop(ctx)
		if err != nil {
			errs++
			r.detail("neksio_error", err.Error())
		}
		nxN, nxT = nxN+n, nxT+el
	}
	// The sentiment and AI jobs the last round queued: how many wait when
	// the load stops, and how long the server takes to work them off.
	backlog, drain, err := drainJobs(ctx, nxURL, loadStopped, e.cfg.timed(120*time.Second, 30*time.Second))
	if err != nil {
		return fmt.Errorf("waiting for the queues to drain: %w", err)
	}
	if nxN == 0 || blN == 0 || bjN == 0 {
		return fmt.Errorf("nothing ingested (neksio %d, baseline %d, baseline with job %d)", nxN, blN, bjN)
	}
	nxRate, blRate, bjRate := float64(nxN)/nxT.Seconds(), float64(blN)/blT.Seconds(), float64(bjN)/bjT.Seconds()
	r.metric("events per second", "1/s", "higher", nxRate, blRate)
	r.metric("events per second vs baseline with job", "1/s", "higher", nxRate, bjRate)
	r.latencyMetrics("time to 200", nxLat.summary(), blLat.summary())
	r.latencyMetrics("time to 200 vs baseline with job", nxLat.summary(), bjLat.summary())
	// No baseline: the baselines queue jobs nobody works.
	r.absolute("queue backlog after load", "jobs", "lower", float64(backlog))
	if drain < 0 {
		r.Metrics = append(r.Metrics, Metric{Name: "drain time", Unit: "s", Better: "lower", Unavailable: true, Absolute: true})
		r.Note = "the sentiment and AI queues did not drain in time; see details"
	} else {
		r.absolute("drain time", "s", "lower", drain.Seconds())
	}
	r.detail("deliveries", map[string]int{"neksio": nxN, "baseline": blN, "baseline_with_job": bjN})
	// CPU milliseconds per delivery during the rounds, by process: the
	// benchmark's own (load generator), PostgreSQL's backends of each
	// database, Neksio's server and its plugin processes. Neksio's leave
	// out the sentiment work still queued when a round stops.
	r.detail("cpu_ms_per_delivery", map[string]any{"neksio": nxCPU.perOperation(nxN),
		"baseline": blCPU.perOperation(blN), "baseline_with_job": bjCPU.perOperation(bjN)})
	if errs > 0 {
		r.Note = "some requests failed; see details"
	}
	if err := countIngestStatements(ctx, e, r, nxURL, blURL, bjURL, ws, ch, jws, jch, jobs); err != nil {
		return fmt.Errorf("counting statements: %w", err)
	}
	// Every delivery stored once.
	var stored int
	if err := srvDB(ctx, nxURL, "SELECT count(*) FROM messages", &stored); err == nil {
		r.detail("neksio_messages_stored", stored)
	}
	return nil
}

// load runs fn from workers goroutines, for d (or n calls when d is 0),
// recording each call's latency in lat. It returns the successful calls,
// the elapsed time, and the first error (the run stops at an error).
func load(ctx context.Context, workers int, d time.Duration, n int, fn func(context.Context, int) error, lat *latencies) (int, time.Duration, error) {
	var next, ok atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if d == 0 && i >= n {
					return
				}
				if d > 0 && time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				if err := fn(ctx, i); err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = err; cancel() })
					}
					return
				}
				if lat != nil {
					lat.add(time.Since(t0))
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return int(ok.Load()), time.Since(start), firstErr
}

// seedChannel inserts a workspace and a WhatsApp channel for the baseline.
func seedChannel(ctx context.Context, pool *pgxpool.Pool) (ws, ch string, err error) {
	ws, ch = string(pulid.New("ws")), string(pulid.New("ch"))
	now := time.Now()
	if _, err = pool.Exec(ctx, `INSERT INTO workspaces (id, created_at, updated_at, name) VALUES ($1, $2, $2, 'Baseline')`, ws, now); err != nil {
		return
	}
	_, err = pool.Exec(ctx, `INSERT INTO channels (id, created_at, updated_at, connector, platform, external_id, name, status, ai_mode, workspace_id)
		VALUES ($1, $2, $2, 'whatsapp', 'whatsapp', $3, 'Baseline', 'ACTIVE', 'OFF', $4)`, ch, now, waPhoneID, ws)
	return
}

// drainJobs counts the sentiment and AI jobs not yet worked at stopped
// (when the load stopped) and waits until none is left: it returns that
// count and how long after stopped the last one was done (-1 when they
// were not all done within limit).
func drainJobs(ctx context.Context, dbURL string, stopped time.Time, limit time.Duration) (int, time.Duration, error) {
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close(ctx)
	pending := func() (int, error) {
		var n int
		err := c.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE queue = ANY($1)
			AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled')`,
			[]string{jobargs.QueueSentiment, jobargs.QueueAI}).Scan(&n)
		return n, err
	}
	backlog, err := pending()
	if err != nil {
		return 0, 0, err
	}
	for n := backlog; n > 0; {
		if time.Since(stopped) > limit {
			return backlog, -1, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if n, err = pending(); err != nil {
			return 0, 0, err
		}
	}
	return backlog, time.Since(stopped), nil
}

// jobAndNotify is what a durable webhook-to-queue design adds to a
// delivery's transaction: a job (a sentiment job, inserted by River
// through pgx) and a pg_notify of the change (Neksio's transaction
// inserts its change events into an outbox table instead, see
// docs/realtime.md; the baseline is kept as it was, so runs compare).
func jobAndNotify(jobs *river.Client[pgx.Tx], ws string) func(ctx context.Context, tx pgx.Tx, msgID string) error {
	return func(ctx context.Context, tx pgx.Tx, msgID string) error {
		if _, err := jobs.InsertTx(ctx, tx, jobargs.SentimentAnalyze{WorkspaceID: ws, MessageID: msgID}, nil); err != nil {
			return fmt.Errorf("job: %w", err)
		}
		payload := `{"o":"baseline","e":[{"t":"message.added","w":"` + ws + `","o":"` + msgID + `"}]}`
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, event.Channel, payload); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		return nil
	}
}

// insertDelivery is what one inbound text message costs written by hand;
// then, when set, also is run in the transaction.
func insertDelivery(ctx context.Context, pool *pgxpool.Pool, ws, ch, from, name, wamid, text string, ts time.Time,
	also func(ctx context.Context, tx pgx.Tx, msgID string) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var contactID string
		err := tx.QueryRow(ctx, `INSERT INTO contacts (id, created_at, updated_at, external_id, name, phone, workspace_id, channel_id)
			VALUES ($1, $2, $2, $3, $4, $3, $5, $6) ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING id`,
			string(pulid.New("ct")), ts, from, name, ws, ch).Scan(&contactID)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `SELECT id FROM contacts WHERE channel_id = $1 AND external_id = $2`, ch, from).Scan(&contactID)
		}
		if err != nil {
			return fmt.Errorf("contact: %w", err)
		}
		var convID string
		err = tx.QueryRow(ctx, `INSERT INTO conversations (id, created_at, updated_at, kind, thread_id, status, last_message_at, last_inbound_at, workspace_id, channel_id, contact_id)
			VALUES ($1, $2, $2, 'DIRECT_MESSAGE', $3, 'OPEN', $2, $2, $4, $5, $6)
			ON CONFLICT (channel_id, kind, thread_id) DO UPDATE SET last_message_at = EXCLUDED.last_message_at,
				last_inbound_at = EXCLUDED.last_inbound_at, updated_at = EXCLUDED.updated_at
			RETURNING id`, string(pulid.New("cv")), ts, from, ws, ch, contactID).Scan(&convID)
		if err != nil {
			return fmt.Errorf("conversation: %w", err)
		}
		msgID := string(pulid.New("msg"))
		_, err = tx.Exec(ctx, `INSERT INTO messages (id, created_at, updated_at, channel_id, direction, author_kind, type, text, external_id, delivery_status, sent_at, workspace_id, conversation_id, contact_id)
			VALUES ($1, $2, $2, $3, 'INBOUND', 'CONTACT', 'text', $4, $5, 'RECEIVED', $2, $6, $7, $8)
			ON CONFLICT (channel_id, external_id) DO NOTHING`, msgID, ts, ch, text, wamid, ws, convID, contactID)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		if also != nil {
			return also(ctx, tx, msgID)
		}
		return nil
	})
}

// execDB runs one statement on a database.
func execDB(ctx context.Context, url, q string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, q)
	return err
}

// srvDB runs one scalar query on a database.
func srvDB(ctx context.Context, url, q string, dst any) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.QueryRow(ctx, q).Scan(dst)
}

// countIngestStatements counts the SQL statements one delivery costs, on a
// second (API-role) server and a pgx pool, both behind the counting proxy.
func countIngestStatements(ctx context.Context, e *runEnv, r *Result, nxURL, blURL, bjURL, ws, ch, jws, jch string, jobs *river.Client[pgx.Tx]) error {
	const samples = 20
	via := func(dbURL string) (*pgProxy, string, error) {
		u, err := url.Parse(dbURL)
		if err != nil {
			return nil, "", err
		}
		p, err := newPGProxy(u.Host)
		if err != nil {
			return nil, "", err
		}
		u.Host = p.addr()
		return p, u.String(), nil
	}
	nxProxy, nxVia, err := via(nxURL)
	if err != nil {
		return err
	}
	defer nxProxy.close()
	srv, err := e.startServer(ctx, nxVia, "NEKSIO_ROLE=api")
	if err != nil {
		return err
	}
	blProxy, blVia, err := via(blURL)
	if err != nil {
		return err
	}
	defer blProxy.close()
	pool, err := pgxpool.New(ctx, blVia)
	if err != nil {
		return err
	}
	defer pool.Close()
	bjProxy, bjVia, err := via(bjURL)
	if err != nil {
		return err
	}
	defer bjProxy.close()
	jpool, err := pgxpool.New(ctx, bjVia)
	if err != nil {
		return err
	}
	defer jpool.Close()
	send := func(i int) error {
		f := fmt.Sprintf("1650%07d", i)
		code, err := srv.webhook(ctx, wasandbox.TextMessage(waPhoneID, f, "Customer "+f, "Counting statements"))
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("webhook answered %d", code)
		}
		return err
	}
	base := func(i int) error {
		f := fmt.Sprintf("1650%07d", i)
		return insertDelivery(ctx, pool, ws, ch, f, "Customer "+f, wasandbox.NewWAMID(), "Counting statements", time.Now(), nil)
	}
	baseJob := func(i int) error {
		f := fmt.Sprintf("1650%07d", i)
		return insertDelivery(ctx, jpool, jws, jch, f, "Customer "+f, wasandbox.NewWAMID(), "Counting statements", time.Now(), jobAndNotify(jobs, jws))
	}
	out := map[string]any{}
	for _, side := range []struct {
		name  string
		proxy *pgProxy
		fn    func(int) error
	}{{"neksio", nxProxy, send}, {"baseline", blProxy, base}, {"baseline_with_job", bjProxy, baseJob}} {
		for i := range 3 {
			if err := side.fn(i); err != nil {
				return err
			}
		}
		side.proxy.reset()
		for i := range samples {
			if err := side.fn(i); err != nil { // existing customers: the steady state
				return err
			}
		}
		total, by := side.proxy.reset()
		shapes := map[string]float64{}
		for q, c := range by {
			shapes[shorten(q, 160)] = float64(c) / samples
		}
		out[side.name] = map[string]any{"per_delivery": float64(total) / samples, "by_statement": shapes}
	}
	nx := out["neksio"].(map[string]any)["per_delivery"].(float64)
	bl := out["baseline"].(map[string]any)["per_delivery"].(float64)
	bj := out["baseline_with_job"].(map[string]any)["per_delivery"].(float64)
	r.metric("SQL statements per delivery", "statements", "lower", nx, bl)
	r.metric("SQL statements per delivery vs baseline with job", "statements", "lower", nx, bj)
	r.detail("sql_statements", out)
	return nil
}
