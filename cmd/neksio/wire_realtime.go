package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	envparse "github.com/caarlos0/env/v11"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/graph"
)

// realtimeConfig holds the subscription settings (docs/realtime.md).
type realtimeConfig struct {
	InitTimeout                   time.Duration `env:"NEKSIO_REALTIME_INIT_TIMEOUT" envDefault:"10s"`
	PingInterval                  time.Duration `env:"NEKSIO_REALTIME_PING_INTERVAL" envDefault:"25s"`
	MaxSubscriptionsPerConnection int           `env:"NEKSIO_REALTIME_MAX_SUBSCRIPTIONS_PER_CONNECTION" envDefault:"100"`
	MaxConnectionsPerKey          int           `env:"NEKSIO_REALTIME_MAX_CONNECTIONS_PER_KEY" envDefault:"100"`
	Buffer                        int           `env:"NEKSIO_REALTIME_BUFFER" envDefault:"256"`
}

func init() { wirings = append(wirings, wireRealtime) }

// wireRealtime configures subscriptions and, on PostgreSQL, starts the
// listener that brings other replicas' change events to this one.
func wireRealtime(_ context.Context, a *App) error {
	var rc realtimeConfig
	opts := envparse.Options{}
	if a.Cfg.Environ != nil {
		opts.Environment = environMap(a.Cfg.Environ)
	}
	if err := envparse.ParseWithOptions(&rc, opts); err != nil {
		return fmt.Errorf("realtime settings: %w", err)
	}
	a.GraphDeps.Realtime = graph.RealtimeOptions{
		AllowedOrigins:                a.Cfg.AllowedOrigins,
		InitTimeout:                   rc.InitTimeout,
		PingInterval:                  rc.PingInterval,
		MaxSubscriptionsPerConnection: rc.MaxSubscriptionsPerConnection,
		MaxConnectionsPerKey:          rc.MaxConnectionsPerKey,
		Buffer:                        rc.Buffer,
	}
	// Workers have no subscribers; SQLite has one process and the local bus.
	if a.Store.Pool == nil || a.Cfg.Role == "worker" {
		return nil
	}
	l := event.NewListener(a.Store.Pool, a.Store.Bus, a.Store.Origin, a.Log.With("component", "events"))
	a.OnStart = append(a.OnStart, l.Start)
	a.OnClose = append(a.OnClose, l.Close)
	return nil
}

// environMap turns KEY=VALUE lines into a map (later lines win).
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
