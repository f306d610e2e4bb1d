package event_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
)

// replica is one process's store with its listener running.
type replica struct {
	store    *store.Store
	listener *event.Listener
}

func newReplica(t *testing.T, url string) *replica {
	t.Helper()
	ctx := context.Background()
	s, err := store.OpenPostgres(ctx, url)
	require.NoError(t, err)
	l := event.NewListener(s.Pool, s.Bus, s.Origin, slog.New(slog.DiscardHandler))
	l.MinBackoff = 10 * time.Millisecond
	require.NoError(t, l.Start(ctx))
	t.Cleanup(func() {
		l.Close()
		s.Close()
	})
	return &replica{store: s, listener: l}
}

func (r *replica) emit(t *testing.T, events ...event.Event) {
	t.Helper()
	require.NoError(t, r.store.InTx(context.Background(), func(tx *store.Tx) error {
		for _, e := range events {
			tx.Emit(e)
		}
		return nil
	}))
}

func next(t *testing.T, sub *event.Subscription) event.Event {
	t.Helper()
	select {
	case e := <-sub.C:
		return e
	case <-sub.Done():
		t.Fatalf("subscription ended: %v", sub.Err())
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20s")
	}
	return event.Event{}
}

// Two replicas on one database: a committed change on one reaches the
// other's subscribers, a rolled-back one reaches nobody, and the replica
// that made the change publishes it exactly once.
func TestListenerAcrossReplicas(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDB(t)
	a, b := newReplica(t, url), newReplica(t, url)
	subA := a.store.Bus.Subscribe("ws_1", 64)
	defer subA.Close()
	subB := b.store.Bus.Subscribe("ws_1", 512)
	defer subB.Close()
	otherB := b.store.Bus.Subscribe("ws_2", 64)
	defer otherB.Close()

	a.emit(t, ev("ws_1", "m1"), ev("ws_1", "m1")) // a repeat inside one tx is sent once
	require.Equal(t, "m1", next(t, subB).ObjectID)
	require.Equal(t, "m1", next(t, subA).ObjectID)

	boom := errors.New("boom")
	err := a.store.InTx(context.Background(), func(tx *store.Tx) error {
		tx.Emit(ev("ws_1", "rolled-back"))
		return boom
	})
	require.ErrorIs(t, err, boom)

	// A marker from B arrives after anything A sent before it: A must not
	// have seen m1 twice (its own notification) and nobody sees the
	// rolled-back event.
	b.emit(t, ev("ws_1", "marker"))
	require.Equal(t, "marker", next(t, subA).ObjectID)
	require.Equal(t, "marker", next(t, subB).ObjectID)
	require.Empty(t, otherB.C, "another workspace's subscriber hears nothing")

	// Many events in one transaction travel in several notifications, in order.
	var batch []event.Event
	for i := range 250 {
		batch = append(batch, ev("ws_1", fmt.Sprintf("ms_%03d", i)))
	}
	a.emit(t, batch...)
	for i := range 250 {
		require.Equal(t, fmt.Sprintf("ms_%03d", i), next(t, subB).ObjectID)
	}
}

// A listener whose connection is killed tells its subscribers to resync,
// reconnects, and delivers again.
func TestListenerReconnectsAndTellsSubscribers(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDB(t)
	a, b := newReplica(t, url), newReplica(t, url)
	sub := b.store.Bus.Subscribe("ws_1", 8)
	defer sub.Close()

	pid := b.listener.PID()
	require.NotZero(t, pid)
	_, err := a.store.DB.Exec("SELECT pg_terminate_backend($1)", pid)
	require.NoError(t, err)

	select {
	case <-sub.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("subscriber not told about the lost connection")
	}
	require.ErrorIs(t, sub.Err(), event.ErrResync)

	require.Eventually(t, func() bool { return b.listener.Connects() >= 2 }, 20*time.Second, 10*time.Millisecond)
	require.NotEqual(t, pid, b.listener.PID())
	fresh := b.store.Bus.Subscribe("ws_1", 8)
	defer fresh.Close()
	a.emit(t, ev("ws_1", "after"))
	require.Equal(t, "after", next(t, fresh).ObjectID)
}

// On SQLite the bus is the whole story: committed events are published,
// rolled-back ones are not.
func TestSQLiteTxPublishesLocally(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.SQLite)
	sub := s.Bus.Subscribe("ws_1", 8)
	defer sub.Close()
	require.Error(t, s.InTx(context.Background(), func(tx *store.Tx) error {
		tx.Emit(ev("ws_1", "no"))
		return errors.New("rollback")
	}))
	require.NoError(t, s.InTx(context.Background(), func(tx *store.Tx) error {
		tx.Emit(ev("ws_1", "yes"))
		tx.Emit(ev("ws_1", "yes"))
		return nil
	}))
	require.Len(t, sub.C, 1)
	require.Equal(t, "yes", (<-sub.C).ObjectID)
}

// insertOutbox commits events to the outbox as a replica would, without
// waking anybody: a sender that crashed between its commit and its
// wake-up.
func insertOutbox(t *testing.T, tx pgx.Tx, origin string, events ...event.Event) {
	t.Helper()
	payload, err := event.OutboxPayload(origin, events)
	require.NoError(t, err)
	_, err = tx.Exec(context.Background(), event.InsertOutboxSQL, payload)
	require.NoError(t, err)
}

// Events whose wake-up never came are read all the same, and a
// transaction that commits after a later one (a smaller transaction ID
// committed last) is delivered once, when it commits; a rolled-back one
// never.
func TestListenerReadsOutboxWithoutWakeUps(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDB(t)
	ctx := context.Background()
	s, err := store.OpenPostgres(ctx, url)
	require.NoError(t, err)
	l := event.NewListener(s.Pool, s.Bus, s.Origin, slog.New(slog.DiscardHandler))
	l.PollInterval = 20 * time.Millisecond
	require.NoError(t, l.Start(ctx))
	t.Cleanup(func() {
		l.Close()
		s.Close()
	})
	sub := s.Bus.Subscribe("ws_1", 64)
	defer sub.Close()

	first, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	defer first.Rollback(ctx) //nolint:errcheck
	insertOutbox(t, first, "crashed", ev("ws_1", "first"))
	aborted, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	insertOutbox(t, aborted, "crashed", ev("ws_1", "aborted"))

	second, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	insertOutbox(t, second, "crashed", ev("ws_1", "second"))
	require.NoError(t, second.Commit(ctx))
	require.Equal(t, "second", next(t, sub).ObjectID)

	require.NoError(t, aborted.Rollback(ctx))
	require.NoError(t, first.Commit(ctx))
	require.Equal(t, "first", next(t, sub).ObjectID)

	// A marker committed last: nothing was delivered twice, the
	// rolled-back event not at all, and the listener's own events are
	// left to the local bus.
	own, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	insertOutbox(t, own, s.Origin, ev("ws_1", "own"))
	require.NoError(t, own.Commit(ctx))
	last, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	insertOutbox(t, last, "crashed", ev("ws_1", "marker"))
	require.NoError(t, last.Commit(ctx))
	require.Equal(t, "marker", next(t, sub).ObjectID)
	require.Empty(t, sub.C)
}

// Trimming deletes the rows of transactions older than a horizon and
// keeps the rest.
func TestTrimOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.OpenPostgres(ctx, storetest.NewPostgresDB(t))
	require.NoError(t, err)
	defer s.Close()
	commit := func(obj string) uint64 {
		tx, err := s.Pool.Begin(ctx)
		require.NoError(t, err)
		insertOutbox(t, tx, "other", ev("ws_1", obj))
		var xid uint64
		require.NoError(t, tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&xid))
		require.NoError(t, tx.Commit(ctx))
		return xid
	}
	commit("old")
	newer := commit("new")
	// Other transactions of the server may be running: the horizon is at
	// most what was running when it was read.
	horizon, err := event.OutboxHorizon(ctx, s.Pool)
	require.NoError(t, err)
	require.NotZero(t, horizon)
	require.NoError(t, event.TrimOutbox(ctx, s.Pool, newer))
	_, batches, err := event.ReadOutbox(ctx, s.Pool, "1:1:")
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Equal(t, "new", batches[0].Events[0].ObjectID)
}

// A listener that keeps hearing its own wake-ups still reads the outbox
// every PollInterval: another replica's events whose wake-up was lost
// arrive all the same.
func TestListenerPollsDespiteOwnWakeUps(t *testing.T) {
	t.Parallel()
	url := storetest.NewPostgresDB(t)
	ctx := context.Background()
	s, err := store.OpenPostgres(ctx, url)
	require.NoError(t, err)
	l := event.NewListener(s.Pool, s.Bus, s.Origin, slog.New(slog.DiscardHandler))
	l.PollInterval = 200 * time.Millisecond
	require.NoError(t, l.Start(ctx))
	t.Cleanup(func() {
		l.Close()
		s.Close()
	})
	sub := s.Bus.Subscribe("ws_1", 8)
	defer sub.Close()

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // its own wake-ups, far more often than PollInterval
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = s.Pool.Exec(ctx, "SELECT pg_notify($1, $2)", event.Channel, event.WakePayload(s.Origin))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()

	tx, err := s.Pool.Begin(ctx)
	require.NoError(t, err)
	insertOutbox(t, tx, "crashed", ev("ws_1", "unannounced"))
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, "unannounced", next(t, sub).ObjectID)
}
