package event

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// OutboxTable holds, on PostgreSQL, the change events of every committed
// transaction: one row per transaction, inserted by that transaction
// (store.InTx), so it exists if and only if the change committed. The
// listeners of the other replicas read it; notifications on Channel only
// wake them up.
//
// Why not pg_notify in the transaction: PostgreSQL serialises the commits
// of transactions that sent a NOTIFY behind one lock held across their WAL
// flush, so every ingesting transaction waited for the one before it
// (docs/benchmarks.md, ingest). A plain INSERT commits with everyone
// else's, sharing WAL flushes.
const OutboxTable = "neksio_event_outbox"

// outboxDDL creates the table. xid is the inserting transaction's ID: a
// reader takes everything whose transaction became visible between two of
// its snapshots (ReadOutbox), so nothing is skipped whatever order
// transactions commit in, and nothing is read twice.
var outboxDDL = []string{
	`CREATE TABLE IF NOT EXISTS ` + OutboxTable + ` (
		xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
		payload text NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS ` + OutboxTable + `_xid ON ` + OutboxTable + ` (xid)`,
}

// outboxLock is the advisory lock under which replicas starting together
// create the table one at a time.
const outboxLock = 7_353_118_907

// Execer runs a statement (a pgx connection, pool or transaction).
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Querier runs statements and queries (a pgx connection or pool).
type Querier interface {
	Execer
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// EnsureOutbox creates the outbox table if it does not exist yet.
func EnsureOutbox(ctx context.Context, db interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
}) error {
	var exists bool
	if err := db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", OutboxTable).Scan(&exists); err != nil {
		return fmt.Errorf("event: looking for the outbox: %w", err)
	}
	if exists {
		return nil
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("event: creating the outbox: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(outboxLock)); err != nil {
		return fmt.Errorf("event: creating the outbox: %w", err)
	}
	for _, q := range outboxDDL {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("event: creating the outbox: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("event: creating the outbox: %w", err)
	}
	return nil
}

// InsertOutboxSQL inserts one transaction's events ($1, OutboxPayload's
// value) into the outbox.
const InsertOutboxSQL = `INSERT INTO ` + OutboxTable + ` (payload) VALUES ($1)`

// OutboxPayload encodes a transaction's events (deduplicated, in order) as
// one outbox row, whatever their number.
func OutboxPayload(origin string, events []Event) (string, error) {
	b, err := json.Marshal(notification{Origin: origin, Events: Dedupe(events)})
	if err != nil {
		return "", fmt.Errorf("event: encoding events: %w", err)
	}
	return string(b), nil
}

// WakePayload is what a store notifies on Channel after committing events:
// its origin and no events (listeners read the events from the outbox).
// Listeners of earlier versions decode it as an empty batch.
func WakePayload(origin string) string {
	b, _ := json.Marshal(notification{Origin: origin})
	return string(b)
}

// Snapshot is the point up to which a reader has read the outbox: a
// PostgreSQL snapshot (pg_snapshot's text form).
type Snapshot string

// CurrentSnapshot returns the database's current snapshot: reading from it
// returns what commits after this moment.
func CurrentSnapshot(ctx context.Context, q Querier) (Snapshot, error) {
	var s string
	if err := q.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&s); err != nil {
		return "", fmt.Errorf("event: reading the current snapshot: %w", err)
	}
	return Snapshot(s), nil
}

// readOutboxSQL returns the statement's own snapshot and the payloads of
// the transactions visible in it but not in $1 (committed since), in
// transaction ID order. Only the transactions $1 saw running (its xip
// list) or that started after it (from its xmax) can qualify: two index
// scans, however many older rows the table keeps.
const readOutboxSQL = `SELECT pg_current_snapshot()::text, ARRAY(
  SELECT payload FROM (
    SELECT xid, payload FROM ` + OutboxTable + ` WHERE xid >= pg_snapshot_xmax($1::pg_snapshot)
    UNION ALL
    SELECT xid, payload FROM ` + OutboxTable + ` WHERE xid = ANY(ARRAY(SELECT pg_snapshot_xip($1::pg_snapshot)))
  ) o WHERE pg_visible_in_snapshot(o.xid, pg_current_snapshot()) ORDER BY o.xid)`

// ReadOutbox returns the events of the transactions that committed after
// since and up to now (the returned snapshot, to pass next time), with
// the origin of each batch. Each committed transaction is returned by
// exactly one call of a sequence.
func ReadOutbox(ctx context.Context, q Querier, since Snapshot) (Snapshot, []Batch, error) {
	var cur string
	var payloads []string
	if err := q.QueryRow(ctx, readOutboxSQL, string(since)).Scan(&cur, &payloads); err != nil {
		return since, nil, fmt.Errorf("event: reading the outbox: %w", err)
	}
	out := make([]Batch, 0, len(payloads))
	for _, p := range payloads {
		n, err := decode(p)
		if err != nil {
			continue // written by OutboxPayload: cannot happen
		}
		out = append(out, Batch(n))
	}
	return Snapshot(cur), out, nil
}

// Batch is one committed transaction's events and the store that sent them.
type Batch struct {
	Origin string
	Events []Event
}

// OutboxHorizon returns the oldest transaction ID still running: every
// outbox row of a smaller ID is visible to any snapshot taken from now on.
func OutboxHorizon(ctx context.Context, q Querier) (uint64, error) {
	var x uint64
	if err := q.QueryRow(ctx, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").Scan(&x); err != nil {
		return 0, fmt.Errorf("event: reading the outbox horizon: %w", err)
	}
	return x, nil
}

// TrimOutbox deletes the rows of transactions older than horizon (an
// OutboxHorizon taken at least the retention ago: listeners read every
// PollInterval, so they have read those rows long since).
func TrimOutbox(ctx context.Context, q Execer, horizon uint64) error {
	if horizon == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, "DELETE FROM "+OutboxTable+" WHERE xid < $1::text::xid8", fmt.Sprint(horizon)); err != nil {
		return fmt.Errorf("event: trimming the outbox: %w", err)
	}
	return nil
}

// OutboxRetention is how long outbox rows are kept after every transaction
// older than them has ended. A listener that has not read the outbox for
// half of it resyncs its subscribers.
const OutboxRetention = 5 * time.Minute
