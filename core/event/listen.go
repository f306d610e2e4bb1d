package event

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listener receives the change events every replica commits to the
// outbox (OutboxTable) and republishes them on the local Bus. A
// notification on Channel, sent by a store after it committed events,
// wakes it up; it also reads the outbox every PollInterval, so events
// whose wake-up was lost (the sender crashed right after its commit) arrive
// all the same. It reads on a dedicated connection, outside the pool, so
// LISTEN never competes with queries for a pooled connection.
//
// Each read returns the transactions that committed since the previous
// read (their transaction IDs visible in this read's snapshot and not in
// the previous one), so every committed event is published once, in
// transaction ID order, and a rolled-back one never.
//
// When the connection drops it reconnects with capped exponential backoff
// and ends the local subscriptions with ErrResync twice: when the
// connection is lost (their clients should know at once) and when it is
// listening again (subscriptions made while it was down may have missed
// events too).
type Listener struct {
	// Connect opens the connection LISTEN runs on.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	Bus     *Bus
	// Origin is the local store's origin: notifications it sent were
	// already published locally and are skipped.
	Origin string
	Log    *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// HealthInterval is how long the connection may stay silent before it
	// is checked (default 30s): a peer that vanished without closing the
	// TCP connection is noticed. The outbox read every PollInterval is
	// the check when that is shorter.
	HealthInterval time.Duration
	// PollInterval is how long the listener waits for a wake-up before
	// reading the outbox anyway (default 2s): the longest an event whose
	// sender crashed between its commit and its wake-up waits.
	PollInterval time.Duration

	cancel   context.CancelFunc
	done     chan struct{}
	connects atomic.Int64
	mu       sync.Mutex
	conn     *pgx.Conn
	// since is the snapshot of the last read of the outbox, lastRead its
	// time (only the run goroutine uses them once started).
	since    Snapshot
	lastRead time.Time
}

// NewListener returns a listener that opens its own connection with the
// pool's settings.
func NewListener(pool *pgxpool.Pool, bus *Bus, origin string, log *slog.Logger) *Listener {
	cfg := pool.Config().ConnConfig
	return &Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg.Copy()) },
		Bus:     bus,
		Origin:  origin,
		Log:     log,
	}
}

// Start connects and listens before returning, so a replica serves
// subscriptions only once it hears other replicas, then keeps listening
// in the background until Close.
func (l *Listener) Start(ctx context.Context) error {
	if l.Log == nil {
		l.Log = slog.Default()
	}
	if l.MinBackoff <= 0 {
		l.MinBackoff = 100 * time.Millisecond
	}
	if l.MaxBackoff <= 0 {
		l.MaxBackoff = 10 * time.Second
	}
	if l.HealthInterval <= 0 {
		l.HealthInterval = 30 * time.Second
	}
	if l.PollInterval <= 0 {
		l.PollInterval = 2 * time.Second
	}
	conn, err := l.listen(ctx)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.run(runCtx, conn)
	return nil
}

// Close stops listening and waits for the listener to finish.
func (l *Listener) Close() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
}

// Connects counts successful LISTENs (1 after Start, +1 per reconnection).
func (l *Listener) Connects() int { return int(l.connects.Load()) }

// PID is the backend process ID of the current connection, 0 when
// disconnected (tests terminate it to simulate a dropped connection).
func (l *Listener) PID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.PgConn().PID()
}

func (l *Listener) listen(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := l.Connect(cctx)
	if err != nil {
		return nil, fmt.Errorf("event: listener connecting: %w", err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("event: LISTEN: %w", err)
	}
	if err := EnsureOutbox(cctx, conn); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	// Events committed from now on. What committed before is either
	// already published (a reconnection: subscribers are told to resync
	// anyway) or older than this replica's subscriptions.
	since, err := CurrentSnapshot(cctx, conn)
	if err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	l.since, l.lastRead = since, time.Now()
	l.mu.Lock()
	l.conn = conn
	l.mu.Unlock()
	l.connects.Add(1)
	return conn, nil
}

func (l *Listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	for {
		err := l.receive(ctx, conn)
		l.mu.Lock()
		l.conn = nil
		l.mu.Unlock()
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = conn.Close(closeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		l.Log.Warn("event listener lost its connection; subscribers are told to resync", "err", err)
		l.Bus.Resync()
		conn = l.reconnect(ctx)
		if conn == nil {
			return
		}
		// Subscriptions made while disconnected may have missed events too.
		l.Bus.Resync()
		l.Log.Info("event listener reconnected")
	}
}

// receive republishes committed events until the connection fails or
// ctx ends: on a wake-up from another replica, and every PollInterval.
func (l *Listener) receive(ctx context.Context, conn *pgx.Conn) error {
	wait := min(l.PollInterval, l.HealthInterval)
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			timedOut := pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)
			if !timedOut || conn.PgConn().IsClosed() {
				return err
			}
			// Quiet for PollInterval: read anyway (a sender may have
			// crashed between its commit and its wake-up); the read also
			// makes sure the server is still there.
			if err := l.read(ctx, conn); err != nil {
				return err
			}
			continue
		}
		wake := l.handle(n)
		// Wake-ups already received are all answered by the read below:
		// their senders committed before notifying.
		for {
			n, _ := conn.WaitForNotification(doneCtx)
			if n == nil {
				break
			}
			wake = l.handle(n) || wake
		}
		// Its own wake-ups (every 50 ms under load) must not put off the
		// periodic read either.
		if wake || time.Since(l.lastRead) >= l.PollInterval {
			if err := l.read(ctx, conn); err != nil {
				return err
			}
		}
	}
}

// doneCtx is an ended context: WaitForNotification with it returns a
// notification already received, or nothing at once.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// handle reports whether a notification is another replica's wake-up
// (its own were published locally at commit). A notification carrying
// events comes from a replica of an earlier version, which sent its
// events with pg_notify in the transaction: they are published as they
// are.
func (l *Listener) handle(n *pgconn.Notification) bool {
	msg, err := decode(n.Payload)
	if err != nil {
		l.Log.Error("event listener: bad notification", "err", err)
		return false
	}
	if msg.Origin == l.Origin {
		return false
	}
	if len(msg.Events) > 0 {
		l.Bus.Publish(msg.Events...)
		return false
	}
	return true
}

// read publishes the events committed since the last read by other
// replicas.
func (l *Listener) read(ctx context.Context, conn *pgx.Conn) error {
	if time.Since(l.lastRead) > OutboxRetention/2 {
		// Rows older than the retention may be gone: whatever this
		// listener had not read yet may have been missed.
		l.Log.Warn("event listener: outbox not read for too long; subscribers are told to resync", "since", l.lastRead)
		l.Bus.Resync()
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	since, batches, err := ReadOutbox(rctx, conn, l.since)
	if err != nil {
		return err
	}
	l.since, l.lastRead = since, time.Now()
	for _, b := range batches {
		if b.Origin != l.Origin {
			l.Bus.Publish(b.Events...)
		}
	}
	return nil
}

// reconnect retries with capped, jittered exponential backoff until it
// listens again or ctx ends (nil).
func (l *Listener) reconnect(ctx context.Context) *pgx.Conn {
	wait := l.MinBackoff
	for {
		jitter := time.Duration(rand.Int64N(int64(wait)/2 + 1))
		t := time.NewTimer(wait/2 + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		conn, err := l.listen(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		l.Log.Warn("event listener: reconnecting", "err", err, "retry_in", wait)
		wait = min(wait*2, l.MaxBackoff)
	}
}
