// Package store opens the database — SQLite by default, PostgreSQL when
// NEKSIO_DATABASE_URL says so — migrates it (ent's schema and River's),
// and runs transactions that ent and River share: work that must follow a
// write is a job inserted in the same *sql.Tx as the write, and change
// events recorded in it are published only after commit.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/ent"
	_ "github.com/neksio/neksio/ent/runtime" // privacy policies and hooks
)

// JobInserter inserts River jobs inside a transaction. *river.Client[*sql.Tx]
// implements it; an API-only replica uses an insert-only client.
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// PgxJobInserter inserts River jobs in a pgx transaction: a River client
// on riverpgxv5. On PostgreSQL the store inserts a transaction's jobs with
// it, on the transaction's own connection, so the job's arrays are sent
// in pgx's binary encoding rather than as lib/pq text arrays through
// database/sql (see docs/benchmarks.md, ingest).
type PgxJobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Store is an open database.
type Store struct {
	DB      *sql.DB
	Dialect string
	Ent     *ent.Client
	// Pool is the pgx pool on PostgreSQL (River's LISTEN), nil on SQLite.
	Pool   *pgxpool.Pool
	Driver riverdriver.Driver[*sql.Tx]
	Bus    *event.Bus
	// Origin identifies this store in the change events it sends through
	// PostgreSQL, so its own event.Listener skips what it already
	// published locally.
	Origin string

	jobs    JobInserter
	pgxJobs PgxJobInserter

	// The waker (PostgreSQL): after a commit with events, one goroutine
	// notifies the other replicas' listeners to read the outbox, and
	// trims it.
	wakeMu     sync.Mutex
	wakeKick   chan struct{}
	wakeStop   chan struct{}
	wakeDone   chan struct{}
	wakeClosed bool

	committedMu sync.RWMutex
	committed   []func([]event.Event)
}

// OnCommitted registers f to run after every commit that published change
// events, with those events (caches of this process drop what changed).
// f runs on the committing goroutine: it must be quick.
func (s *Store) OnCommitted(f func([]event.Event)) {
	s.committedMu.Lock()
	s.committed = append(s.committed, f)
	s.committedMu.Unlock()
}

// OpenSQLite opens (creating) the SQLite database at path. SQLite allows
// one writer; the pool has a single connection, as River's SQLite driver
// recommends, so nothing ever waits on a lock held by its own process.
func OpenSQLite(path string) (*Store, error) { return OpenSQLiteWrapped(path, nil) }

// OpenSQLiteWrapped is OpenSQLite with every connection made through
// wrap (tests count statements with it); nil wraps nothing.
func OpenSQLiteWrapped(path string, wrap func(driver.Connector) driver.Connector) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_txlock=immediate"
	var c driver.Connector = dsnConnector{dsn: dsn, drv: &sqlite.Driver{}}
	if wrap != nil {
		c = wrap(c)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	return newStore(db, dialect.SQLite, nil, riversqlite.New(db)), nil
}

// DefaultMaxConns is the connection pool's size on PostgreSQL unless the
// URL sets pool_max_conns: room for the web handlers and River's workers
// at once (see docs/benchmarks.md, ingest).
const DefaultMaxConns = 24

// OpenPostgres connects to PostgreSQL. ent writes through database/sql on
// the same pgx pool River listens on.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	return OpenPostgresWith(ctx, url, nil)
}

// OpenPostgresWith is OpenPostgres with configure applied to the pool's
// settings before it connects (tests install a pgx tracer with it).
func OpenPostgresWith(ctx context.Context, url string, configure func(*pgxpool.Config)) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parsing database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns=") {
		// pgxpool's default (the larger of 4 and the CPUs) makes webhook
		// handlers, GraphQL requests and River's workers queue for a few
		// connections that mostly wait on round trips.
		cfg.MaxConns = DefaultMaxConns
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connecting: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connecting to postgres: %w", err)
	}
	if err := event.EnsureOutbox(pingCtx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return newStore(db, dialect.Postgres, pool, riverdatabasesql.NewWithPgxListener(db, pool)), nil
}

func newStore(db *sql.DB, dia string, pool *pgxpool.Pool, drv riverdriver.Driver[*sql.Tx]) *Store {
	sqlDriver := entsql.OpenDB(dia, db)
	var entDriver dialect.Driver = sqlDriver
	if pool != nil {
		// ent's node queries read their rows from pgx directly (nodeReader).
		entDriver = nodeReader{Driver: sqlDriver, pool: pool}
	}
	return &Store{
		DB:      db,
		Dialect: dia,
		Ent:     ent.NewClient(ent.Driver(entDriver)),
		Pool:    pool,
		Driver:  drv,
		Bus:     event.NewBus(),
		Origin:  event.NewOrigin(),
	}
}

// SetJobs installs the job inserter (the River client, built once the
// workers are known).
func (s *Store) SetJobs(j JobInserter) { s.jobs = j }

// SetPgxJobs installs, on PostgreSQL, the inserter the store uses instead
// of SetJobs's: an insert-only River client on riverpgxv5 (its driver
// needs no pool: it runs on the transaction's connection). Ignored on
// SQLite.
func (s *Store) SetPgxJobs(j PgxJobInserter) {
	if s.Dialect == dialect.Postgres {
		s.pgxJobs = j
	}
}

// Close closes the database.
func (s *Store) Close() error {
	s.stopWaker()
	err := s.DB.Close()
	if s.Pool != nil {
		s.Pool.Close()
	}
	return err
}

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.DB.PingContext(ctx) }

// Migrate applies ent's schema and River's migrations. On PostgreSQL an
// advisory lock keeps replicas starting together from migrating at once.
func (s *Store) Migrate(ctx context.Context) error {
	if s.Dialect == dialect.Postgres {
		conn, err := s.DB.Conn(ctx)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		defer conn.Close()
		const lockID = 7_353_118_906
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
			return fmt.Errorf("store: migrate lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID) //nolint:errcheck
	}
	migrator, err := rivermigrate.New(s.Driver, nil)
	if err != nil {
		return fmt.Errorf("store: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("store: river migrations: %w", err)
	}
	// ent's migration mutates the package-level table definitions: two
	// stores of one process (tests, tools) must not migrate at once.
	schemaMu.Lock()
	err = s.Ent.Schema.Create(ctx)
	schemaMu.Unlock()
	if err != nil {
		return fmt.Errorf("store: schema migrations: %w", err)
	}
	// Conversations handed off before needs_human existed are in the
	// team's queue too. Idempotent: a handed-off conversation without an
	// assignee always needs a human (core/inbox keeps it so).
	if _, err := s.DB.ExecContext(ctx, `UPDATE conversations SET needs_human = true
		WHERE handoff_reason <> '' AND assignee_id IS NULL AND needs_human = false`); err != nil {
		return fmt.Errorf("store: backfilling needs_human: %w", err)
	}
	if err := s.dropAnalyticsDurations(ctx); err != nil {
		return err
	}
	// ent's migration adds indexes and never drops one: the messages'
	// (conversation_id, sent_at) index was replaced by (conversation_id,
	// sent_at, id), which serves every query the old one did. Idempotent.
	if _, err := s.DB.ExecContext(ctx, `DROP INDEX IF EXISTS `+ReplacedMessageIndex); err != nil {
		return fmt.Errorf("store: dropping a replaced index: %w", err)
	}
	return s.backfillFailedAt(ctx)
}

// ReplacedMessageIndex is the index of messages that Migrate drops.
const ReplacedMessageIndex = "message_conversation_id_sent_at"

// backfillFailedAt gives the FAILED post targets written before failed_at
// existed the time they failed as analytics knew it (updated_at, which
// POSTS_FAILED used to count at), and resets the analytics watermarks, as
// dropAnalyticsDurations does, so the next analytics.rollup pass rebuilds
// the rollups: a target updated after it failed may have been counted
// twice. Idempotent: publishing sets failed_at with FAILED, so a second
// migration finds nothing and leaves the watermarks alone.
func (s *Store) backfillFailedAt(ctx context.Context) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: backfilling failed_at: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	res, err := tx.ExecContext(ctx, `UPDATE post_targets SET failed_at = updated_at WHERE status = 'FAILED' AND failed_at IS NULL`)
	if err != nil {
		return fmt.Errorf("store: backfilling failed_at: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: backfilling failed_at: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM analytics_watermarks`); err != nil {
		return fmt.Errorf("store: resetting analytics watermarks: %w", err)
	}
	return tx.Commit()
}

// dropAnalyticsDurations retires analytics_durations (one row per
// duration, replaced by the per-hour analytics_histograms): the table
// goes, and with it the analytics watermarks, so the next analytics.rollup
// pass rebuilds every workspace's rollups and histograms from the base
// tables (queries read the base tables until then). Both are derived
// data; a database without the table is left alone.
func (s *Store) dropAnalyticsDurations(ctx context.Context) error {
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'analytics_durations'`
	if s.Dialect == dialect.Postgres {
		q = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'analytics_durations'`
	}
	var n int
	if err := s.DB.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("store: looking for analytics_durations: %w", err)
	}
	if n == 0 {
		return nil
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: dropping analytics_durations: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, `DELETE FROM analytics_watermarks`); err != nil {
		return fmt.Errorf("store: resetting analytics watermarks: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE analytics_durations`); err != nil {
		return fmt.Errorf("store: dropping analytics_durations: %w", err)
	}
	return tx.Commit()
}

var schemaMu sync.Mutex

// Tx is one transaction shared by ent, River and change events.
type Tx struct {
	SQL *sql.Tx
	// conn holds SQL's connection when jobs go through pgx (Raw).
	conn *sql.Conn
	// Ent is a client bound to SQL; privacy policies apply as usual.
	Ent    *ent.Client
	store  *Store
	events []event.Event
	after  []func()
	jobs   []river.InsertManyParams
	once   map[string]bool
}

// ErrNoJobs is returned when a job is inserted before SetJobs.
var ErrNoJobs = errors.New("store: no job client configured")

// InsertJob queues a River job in the transaction: it exists if and only
// if the transaction commits. Jobs are inserted together, in one statement,
// just before the commit.
func (t *Tx) InsertJob(_ context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if t.store.jobs == nil && t.store.pgxJobs == nil {
		return ErrNoJobs
	}
	t.jobs = append(t.jobs, river.InsertManyParams{Args: args, InsertOpts: opts})
	return nil
}

// InsertJobOnce is InsertJob, at most once per key in the transaction:
// River refuses the same unique job twice in one insert (a delivery with
// two messages of one conversation).
func (t *Tx) InsertJobOnce(ctx context.Context, key string, args river.JobArgs, opts *river.InsertOpts) error {
	if t.once[key] {
		return nil
	}
	if t.once == nil {
		t.once = map[string]bool{}
	}
	t.once[key] = true
	return t.InsertJob(ctx, args, opts)
}

// flushJobs inserts the transaction's jobs. With pgx (t.conn set) and an
// outbox row to insert (outbox non-nil), that INSERT travels in the same
// round trip as River's first statement (a pgx batch), and outbox.sent is
// set; otherwise the caller still has to send it.
func (t *Tx) flushJobs(ctx context.Context, outbox *pendingStmt) error {
	if len(t.jobs) == 0 {
		return nil
	}
	var err error
	if t.conn != nil {
		// The same connection and transaction, through pgx: Raw hands
		// over the driver's connection between two statements of ours.
		err = t.conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("store: connection is a %T, not pgx's", dc)
			}
			_, err := t.store.pgxJobs.InsertManyTx(ctx, &inTx{c: c.Conn(), first: outbox}, t.jobs)
			return err
		})
	} else {
		_, err = t.store.jobs.InsertManyTx(ctx, t.SQL, t.jobs)
	}
	if err != nil {
		if outbox != nil && outbox.err != nil {
			return fmt.Errorf("store: recording change events: %w", outbox.err)
		}
		if outbox != nil && outbox.sent {
			return fmt.Errorf("store: inserting %d jobs and the change events: %w", len(t.jobs), err)
		}
		return fmt.Errorf("store: inserting %d jobs: %w", len(t.jobs), err)
	}
	t.jobs = nil
	return nil
}

// inTx is a pgx.Tx for statements on a connection whose transaction
// database/sql began and ends: it runs statements and refuses to begin,
// commit or roll back anything itself. A pending first statement (the
// outbox INSERT) is sent with the first statement run through it, in
// one round trip.
type inTx struct {
	c     *pgx.Conn
	first *pendingStmt
}

// pendingStmt is a statement to send ahead of the next one; sent is set
// once it has been.
type pendingStmt struct {
	sql  string
	args []any
	sent bool
	err  error // its own error, when sent alone
}

var errTxOwned = errors.New("store: the transaction belongs to database/sql")

func (t *inTx) Begin(context.Context) (pgx.Tx, error) { return nil, errTxOwned }
func (t *inTx) Commit(context.Context) error          { return errTxOwned }
func (t *inTx) Rollback(context.Context) error        { return errTxOwned }
func (t *inTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.sendFirst(ctx); err != nil {
		return 0, err
	}
	return t.c.CopyFrom(ctx, table, cols, src)
}

// SendBatch sends a pending first statement on its own (the caller reads
// the batch's results in its own order); its error, if any, is kept in
// it, and the aborted transaction fails the batch.
func (t *inTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	_ = t.sendFirst(ctx)
	return t.c.SendBatch(ctx, b)
}
func (t *inTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }
func (t *inTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.c.Prepare(ctx, name, sql)
}
func (t *inTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p := t.pending(); p != nil {
		b := &pgx.Batch{}
		b.Queue(p.sql, p.args...)
		b.Queue(sql, args...)
		br := t.c.SendBatch(ctx, b)
		_, err := br.Exec()
		var tag pgconn.CommandTag
		if err == nil {
			tag, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return tag, err
	}
	return t.c.Exec(ctx, sql, args...)
}
func (t *inTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p := t.pending(); p != nil {
		b := &pgx.Batch{}
		b.Queue(p.sql, p.args...)
		b.Queue(sql, args...)
		br := t.c.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
		rows, err := br.Query()
		if err != nil {
			_ = br.Close()
			return nil, err
		}
		return &batchRows{Rows: rows, br: br}, nil
	}
	return t.c.Query(ctx, sql, args...)
}
func (t *inTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.first != nil && !t.first.sent {
		rows, err := t.Query(ctx, sql, args...)
		if err != nil {
			return errRow{err}
		}
		return rowOf{rows}
	}
	return t.c.QueryRow(ctx, sql, args...)
}
func (t *inTx) Conn() *pgx.Conn { return t.c }

// pending returns the statement still to send first, marking it sent.
func (t *inTx) pending() *pendingStmt {
	if t.first == nil || t.first.sent {
		return nil
	}
	t.first.sent = true
	return t.first
}

func (t *inTx) sendFirst(ctx context.Context) error {
	if p := t.pending(); p != nil {
		_, p.err = t.c.Exec(ctx, p.sql, p.args...)
		return p.err
	}
	return nil
}

// batchRows are the rows of a batch's last statement; closing them ends
// the batch.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

// rowOf is pgx.Row over rows (QueryRow's semantics).
type rowOf struct{ rows pgx.Rows }

func (r rowOf) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Emit records a change event. It reaches subscribers only if the
// transaction commits: on the local bus after commit, and on PostgreSQL
// through pg_notify sent inside the transaction (see core/event).
func (t *Tx) Emit(ev event.Event) { t.events = append(t.events, ev) }

// AfterCommit runs f once the transaction has committed.
func (t *Tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// lockNamespace is the first key of the two-key advisory locks Lock takes,
// so they never meet locks taken with one key (River's, Migrate's).
const lockNamespace int32 = 0x6e6b7300 // "nks\0"

// Lock holds a lock named key until the transaction ends, so transactions
// that must see each other's writes on the same thing run one after the
// other: a statement after Lock sees everything the previous holder
// committed. On PostgreSQL it is a transaction-scoped advisory lock on a
// hash of key (two keys sharing a hash just wait for each other); SQLite
// needs none, its transactions take the write lock when they begin.
func (t *Tx) Lock(ctx context.Context, key string) error {
	if t.store.Dialect != dialect.Postgres {
		return nil
	}
	if _, err := t.SQL.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockNamespace, key); err != nil {
		return fmt.Errorf("store: lock: %w", err)
	}
	return nil
}

// InTx runs fn in a transaction, committing when it returns nil and
// rolling back otherwise (and on panic).
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	var conn *sql.Conn
	var sqlTx *sql.Tx
	if s.pgxJobs != nil {
		// A connection of our own for the transaction, so its jobs can
		// be inserted through pgx on it (flushJobs). Back to the pool as
		// soon as the transaction has ended, before any after-commit
		// work, which may need a connection of its own: holding this one
		// meanwhile could exhaust the pool under load.
		if conn, err = s.DB.Conn(ctx); err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		defer releaseConn(&conn)
		sqlTx, err = conn.BeginTx(ctx, nil)
	} else {
		sqlTx, err = s.DB.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{
		SQL:   sqlTx,
		conn:  conn,
		Ent:   ent.NewClient(ent.Driver(txDriver{entsql.NewDriver(s.Dialect, entsql.Conn{ExecQuerier: sqlTx})})),
		store: s,
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	events := event.Dedupe(tx.events)
	outbox, err := s.outboxStmt(events)
	if err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := tx.flushJobs(ctx, outbox); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if outbox != nil && !outbox.sent {
		if _, err := sqlTx.ExecContext(ctx, outbox.sql, outbox.args...); err != nil {
			_ = sqlTx.Rollback()
			return fmt.Errorf("store: recording change events: %w", err)
		}
	}
	err = sqlTx.Commit()
	releaseConn(&conn)
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if len(events) > 0 {
		if s.Dialect == dialect.Postgres {
			s.wake()
		}
		s.committedMu.RLock()
		for _, f := range s.committed {
			f(events)
		}
		s.committedMu.RUnlock()
		s.Bus.Publish(events...)
	}
	for _, f := range tx.after {
		f()
	}
	return nil
}

// releaseConn returns *c to the pool, once.
func releaseConn(c **sql.Conn) {
	if *c != nil {
		_ = (*c).Close()
		*c = nil
	}
}

// outboxStmt is the statement that records a transaction's change events
// for the other replicas, nil if there are none or on SQLite. On
// PostgreSQL they are inserted into the outbox (event.OutboxTable) in the
// transaction, so they exist exactly when the change committed; after the
// commit the waker tells the other replicas' listeners to read them (and
// they read it every few seconds anyway). Not pg_notify in the
// transaction: PostgreSQL commits notifying transactions one at a time.
// When the transaction inserts jobs through pgx, the INSERT shares a round
// trip with River's (flushJobs). SQLite serves one process: the local bus
// is enough.
func (s *Store) outboxStmt(events []event.Event) (*pendingStmt, error) {
	if s.Dialect != dialect.Postgres || len(events) == 0 {
		return nil, nil
	}
	payload, err := event.OutboxPayload(s.Origin, events)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &pendingStmt{sql: event.InsertOutboxSQL, args: []any{payload}}, nil
}

// wake asks the waker to notify the other replicas' listeners, starting
// it on first use. It never blocks: wake-ups asked for while one is being
// sent are sent as one.
func (s *Store) wake() {
	s.wakeMu.Lock()
	if s.wakeClosed {
		s.wakeMu.Unlock()
		return
	}
	if s.wakeKick == nil {
		s.wakeKick = make(chan struct{}, 1)
		s.wakeStop = make(chan struct{})
		s.wakeDone = make(chan struct{})
		go s.runWaker()
	}
	s.wakeMu.Unlock()
	select {
	case s.wakeKick <- struct{}{}:
	default:
	}
}

func (s *Store) stopWaker() {
	s.wakeMu.Lock()
	s.wakeClosed = true
	started := s.wakeKick != nil
	if started {
		close(s.wakeStop)
	}
	s.wakeMu.Unlock()
	if started {
		<-s.wakeDone
	}
}

// outboxTrimEvery is how often the waker trims the outbox.
const outboxTrimEvery = time.Minute

// WakeCooldown is the shortest time between two wake-ups of one store: the
// first commit after a quiet spell wakes the other replicas at once, the
// commits that follow within WakeCooldown share one wake-up at its end (as
// River throttles its insert notifications).
const WakeCooldown = 50 * time.Millisecond

// WakeSQL is the waker's statement (named, so statement counts can tell
// it from the work of a transaction).
const WakeSQL = "-- name: NeksioWake\nSELECT pg_notify($1, $2)"

// runWaker sends the wake-ups (on a pooled connection, in a transaction of
// its own that writes nothing), one at a time and at most one per
// WakeCooldown, so however many commits happen meanwhile they cost one
// notifying commit, off their path. A failed wake-up is not retried:
// listeners read the outbox every event.Listener.PollInterval anyway.
// Every minute it deletes the outbox rows of transactions that ended
// event.OutboxRetention ago.
func (s *Store) runWaker() {
	defer close(s.wakeDone)
	payload := event.WakePayload(s.Origin)
	trim := time.NewTicker(outboxTrimEvery)
	defer trim.Stop()
	type horizon struct {
		at  time.Time
		xid uint64
	}
	var horizons []horizon
	var last time.Time
	var later *time.Timer
	var laterC <-chan time.Time
	defer func() {
		if later != nil {
			later.Stop()
		}
	}()
	send := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.Pool.Exec(ctx, WakeSQL, event.Channel, payload)
		cancel()
		last = time.Now()
	}
	for {
		select {
		case <-s.wakeStop:
			return
		case <-s.wakeKick:
			if laterC != nil {
				continue // a wake-up is due at the end of the cooldown
			}
			if wait := WakeCooldown - time.Since(last); wait > 0 {
				later = time.NewTimer(wait)
				laterC = later.C
				continue
			}
			send()
		case <-laterC:
			laterC = nil
			send()
		case now := <-trim.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if x, err := event.OutboxHorizon(ctx, s.Pool); err == nil {
				horizons = append(horizons, horizon{now, x})
			}
			// The newest horizon at least the retention old.
			var cut uint64
			for len(horizons) > 0 && now.Sub(horizons[0].at) >= event.OutboxRetention {
				cut = horizons[0].xid
				horizons = horizons[1:]
			}
			_ = event.TrimOutbox(ctx, s.Pool, cut)
			cancel()
		}
	}
}

// txDriver runs ent on a transaction opened elsewhere. ent wraps some
// writes in transactions of its own; inside ours they become no-ops, and
// the outer transaction decides.
type txDriver struct{ *entsql.Driver }

func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

func (d txDriver) BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error) {
	return dialect.NopTx(d.Driver), nil
}

// Close leaves the transaction to InTx.
func (d txDriver) Close() error { return nil }

// dsnConnector opens connections to a DSN with a driver (what sql.Open
// does, as a driver.Connector that can be wrapped).
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }
