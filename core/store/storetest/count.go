package storetest

import (
	"context"
	"database/sql/driver"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
)

// Counter counts the SQL statements a store sends, begin and commit
// included, as the benchmark's wire-protocol proxy counts them.
type Counter struct {
	mu    sync.Mutex
	on    bool
	stmts []string
}

// Start resets the count and starts counting.
func (c *Counter) Start() {
	c.mu.Lock()
	c.on, c.stmts = true, nil
	c.mu.Unlock()
}

// Stop stops counting and returns the statements sent since Start.
func (c *Counter) Stop() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.stmts
}

// WithoutWakeUps leaves out the wake-up notifications sent after a commit
// by another goroutine: River's insert notification (at most once per
// queue every 100 ms or so, whatever the number of jobs inserted) and the
// store's wake-up of the other replicas' event listeners (store.WakeSQL,
// at most one per store.WakeCooldown). They are no cost of the counted
// operation and may land in a later count (the benchmark's count, an
// average over deliveries, includes them).
func WithoutWakeUps(stmts []string) []string {
	out := stmts[:0:0]
	for _, s := range stmts {
		if !strings.HasPrefix(s, "-- name: PGNotifyMany") && !strings.HasPrefix(s, "-- name: NeksioWake") {
			out = append(out, s)
		}
	}
	return out
}

func (c *Counter) add(q string) {
	c.mu.Lock()
	if c.on {
		c.stmts = append(c.stmts, strings.Join(strings.Fields(q), " "))
	}
	c.mu.Unlock()
}

// Summary lists statements with their counts, for failure messages.
func Summary(stmts []string) string {
	n := map[string]int{}
	for _, s := range stmts {
		if len(s) > 120 {
			s = s[:120] + "…"
		}
		n[s]++
	}
	var out []string
	for s, c := range n {
		out = append(out, strings.Repeat(" ", 2)+itoa(c)+"× "+s)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// OpenCounting is Open with every statement the store sends counted: on
// SQLite through a database/sql driver wrapper, on PostgreSQL through a
// pgx tracer.
func OpenCounting(t testing.TB, d Dialect) (*store.Store, *Counter) {
	t.Helper()
	ctx := context.Background()
	c := &Counter{}
	var s *store.Store
	var err error
	switch d {
	case SQLite:
		s, err = store.OpenSQLiteWrapped(filepath.Join(t.TempDir(), "neksio.db"), func(inner driver.Connector) driver.Connector {
			return countingConnector{inner: inner, c: c}
		})
		require.NoError(t, err)
	case Postgres:
		url := NewPostgresDB(t)
		s, err = store.OpenPostgresWith(ctx, url, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = pgTracer{c} })
		require.NoError(t, err)
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Migrate(ctx))
	client, err := river.NewClient(s.Driver, &river.Config{})
	require.NoError(t, err)
	s.SetJobs(client)
	usePgxJobs(t, s)
	return s, c
}

type pgTracer struct{ c *Counter }

func (p pgTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	p.c.add(data.SQL)
	return ctx
}

func (pgTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Statements sent together in a batch (one round trip) count one each.
func (pgTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (p pgTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	p.c.add(data.SQL)
}

func (pgTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

type countingConnector struct {
	inner driver.Connector
	c     *Counter
}

func (k countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := k.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: k.c}, nil
}

func (k countingConnector) Driver() driver.Driver { return k.inner.Driver() }

// countingConn counts what database/sql sends through a SQLite
// connection; it forwards the interfaces the modernc driver implements.
type countingConn struct {
	driver.Conn
	c *Counter
}

func (k *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	k.c.add("begin")
	tx, err := k.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countingTx{Tx: tx, c: k.c}, nil
}

func (k *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := k.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return countingStmt{Stmt: st, q: q, c: k.c}, nil
}

func (k *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	k.c.add(q)
	return k.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (k *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	k.c.add(q)
	return k.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (k *countingConn) Ping(ctx context.Context) error {
	if p, ok := k.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (k *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := k.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (k *countingConn) IsValid() bool {
	if v, ok := k.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type countingTx struct {
	driver.Tx
	c *Counter
}

func (t countingTx) Commit() error {
	t.c.add("commit")
	return t.Tx.Commit()
}

func (t countingTx) Rollback() error {
	t.c.add("rollback")
	return t.Tx.Rollback()
}

type countingStmt struct {
	driver.Stmt
	q string
	c *Counter
}

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.add(s.q)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.add(s.q)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
