package main

import (
	"context"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/graph"
)

// wireRealtime configures subscriptions and, on PostgreSQL, starts the
// listener that brings other replicas' change events to this one.
func wireRealtime(_ context.Context, a *App) error {
	a.GraphDeps.Realtime = graph.RealtimeOptions{
		AllowedOrigins:                a.Cfg.AllowedOrigins,
		InitTimeout:                   a.Cfg.RealtimeInitTimeout,
		PingInterval:                  a.Cfg.RealtimePingInterval,
		MaxSubscriptionsPerConnection: a.Cfg.RealtimeMaxSubscriptionsPerConn,
		MaxConnectionsPerKey:          a.Cfg.RealtimeMaxConnectionsPerKey,
		Buffer:                        a.Cfg.RealtimeBuffer,
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
