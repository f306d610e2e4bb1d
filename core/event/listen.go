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

// Listener receives the change events every replica sends through
// PostgreSQL (pg_notify on Channel) and republishes them on the local Bus.
// It runs on a dedicated connection, outside the pool, so LISTEN never
// competes with queries for a pooled connection.
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
	// is pinged (default 30s): a peer that vanished without closing the
	// TCP connection is noticed.
	HealthInterval time.Duration

	cancel   context.CancelFunc
	done     chan struct{}
	connects atomic.Int64
	mu       sync.Mutex
	conn     *pgx.Conn
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

// receive republishes notifications until the connection fails or ctx ends.
func (l *Listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, l.HealthInterval)
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
			// Silent for HealthInterval: make sure the server is still there.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("event: listener health check: %w", err)
			}
			continue
		}
		msg, err := decode(n.Payload)
		if err != nil {
			l.Log.Error("event listener: bad notification", "err", err)
			continue
		}
		if msg.Origin == l.Origin {
			continue // published locally when it committed
		}
		l.Bus.Publish(msg.Events...)
	}
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
