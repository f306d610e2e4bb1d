package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/media"
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

// loadBox loads the master key and checks it against the database's key
// fingerprint: a server whose key differs from the one the secrets were
// sealed with must not start (it would fail every decrypt of theirs).
func loadBox(ctx context.Context, cfg *config.Config, log *slog.Logger, s *store.Store) (*secret.Box, error) {
	keyFile := filepath.Join(cfg.DataDir, "master.key")
	if cfg.MasterKey == "" && cfg.Postgres() && !cfg.AllowGeneratedMasterKey {
		// Replicas each generating a key into their own data dir seal
		// with different keys: refuse instead.
		msg := "NEKSIO_MASTER_KEY is not set: on PostgreSQL every replica must use the same master key " +
			"(a key generated into each data dir differs per replica, and replies then fail to decrypt). " +
			"Set NEKSIO_MASTER_KEY to one base64 32-byte key (e.g. from `openssl rand -base64 32`) on every replica"
		if _, err := os.Stat(keyFile); err == nil {
			msg += "; this data dir already has a generated key in " + keyFile + ": use its contents if this database's secrets were sealed with it"
		}
		return nil, errors.New(msg + "; on a single node only, NEKSIO_ALLOW_GENERATED_MASTER_KEY=true keeps using a key in the data dir")
	}
	key, generated, err := secret.LoadKey(cfg.MasterKey, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if generated {
		log.Warn("generated a master key in the data dir; set NEKSIO_MASTER_KEY in production and keep it safe: losing it loses every channel's credentials",
			"path", keyFile)
	}
	box, err := secret.New(key)
	if err != nil {
		return nil, err
	}
	// A database from before key fingerprints: the key must open the
	// channels' credentials before it is recorded as the database's.
	existing := func(ctx context.Context) error {
		opened, failed, err := channel.SealedWith(ctx, s, box)
		if err != nil {
			return err
		}
		if failed > 0 && opened == 0 {
			return fmt.Errorf("%w: it opens none of the %d channels' sealed credentials", secret.ErrKeyMismatch, failed)
		}
		if failed > 0 {
			log.Warn("the master key opens most channels' credentials but not all: those channels must be reconnected",
				"opened", opened, "not_opened", failed)
		}
		return nil
	}
	if err := secret.CheckKey(ctx, s, box, existing); err != nil {
		from := "NEKSIO_MASTER_KEY"
		if cfg.MasterKey == "" {
			from = "the master key in " + keyFile + " (NEKSIO_MASTER_KEY is not set)"
		}
		if errors.Is(err, secret.ErrKeyMismatch) {
			return nil, fmt.Errorf("%s does not match the master key this database's secrets were sealed with: "+
				"set NEKSIO_MASTER_KEY to the key the other servers of this database use (%w)", from, err)
		}
		if !cfg.AutoMigrate {
			return nil, fmt.Errorf("checking the master key: %w (run `neksio migrate` first)", err)
		}
		return nil, fmt.Errorf("checking the master key: %w", err)
	}
	return box, nil
}

// must loads the configuration for CLI commands.
func loadConfig() (*config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// wireFeatures builds every feature area on top of the core services, in
// dependency order, once the store, connectors, channels, inbox and auth
// exist and before the River client and the routes are built. Each area's
// construction is in its own file (wire_*.go); this is the one place that
// says which runs when and which handles they share.
func (a *App) wireFeatures(ctx context.Context) error {
	// One media bucket for publishing's media store, inbound media and
	// privacy's exports.
	bucket, err := media.OpenBucket(ctx, a.Cfg.Media.Bucket, a.Cfg.DataDir)
	if err != nil {
		return err
	}
	a.Bucket = bucket
	a.OnClose = append(a.OnClose, func() { _ = bucket.Close() })
	steps := []func(context.Context, *App) error{
		wireAgent,      // the AI provider, knowledge base and agent: used by publishing and privacy
		wireAnalytics,  // the analytics query, export and rollups
		wireOnboarding, // OAuth connection of channels
		wirePrivacy,    // export, erasure, purge; needs the knowledge base's vectors and the bucket
		wirePublish,    // media store and posts; needs the agent's provider, the knowledge base and the bucket
		wireRealtime,   // subscriptions' event bus
		wireTeam,       // members and invitations
	}
	for _, step := range steps {
		if err := step(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
