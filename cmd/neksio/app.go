package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
)

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// openStore opens the configured database and, unless told not to,
// migrates it.
func openStore(ctx context.Context, cfg *config.Config, migrate bool) (*store.Store, error) {
	var s *store.Store
	var err error
	if cfg.Postgres() {
		s, err = store.OpenPostgres(ctx, cfg.DatabaseURL)
	} else {
		s, err = store.OpenSQLite(cfg.SQLitePath())
	}
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func loadBox(cfg *config.Config, log *slog.Logger) (*secret.Box, error) {
	key, generated, err := secret.LoadKey(cfg.MasterKey, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if generated {
		log.Warn("generated a master key in the data dir; set NEKSIO_MASTER_KEY in production and keep it safe: losing it loses every channel's credentials",
			"path", cfg.DataDir+"/master.key")
	}
	return secret.New(key)
}

// must loads the configuration for CLI commands.
func loadConfig() (*config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	return cfg, nil
}
