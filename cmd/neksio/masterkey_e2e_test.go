package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// A second server of a database whose master key differs from the one its
// secrets were sealed with refuses to start, naming NEKSIO_MASTER_KEY;
// with the same key it starts.
func TestMasterKeyMismatchRefusesToStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d) // seals the WhatsApp channel's token
		ctx := context.Background()

		other := make([]byte, 32)
		_, _ = rand.Read(other)
		cfg := *e.App.Cfg
		cfg.MasterKey = base64.StdEncoding.EncodeToString(other)
		_, err := newApp(ctx, &cfg, quietLog)
		require.ErrorIs(t, err, secret.ErrKeyMismatch)
		require.ErrorContains(t, err, "NEKSIO_MASTER_KEY")

		// A key generated into a fresh data dir is refused the same way.
		cfg.MasterKey, cfg.DataDir = "", t.TempDir()
		if d == storetest.SQLite {
			// The same database file, a new key file beside it.
			cfg.DataDir = e.App.Cfg.DataDir
			require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, "master.key"), []byte(base64.StdEncoding.EncodeToString(other)), 0o600))
		} else {
			cfg.AllowGeneratedMasterKey = true
		}
		_, err = newApp(ctx, &cfg, quietLog)
		require.ErrorIs(t, err, secret.ErrKeyMismatch)
		require.ErrorContains(t, err, "NEKSIO_MASTER_KEY")

		same := *e.App.Cfg
		app, err := newApp(ctx, &same, quietLog)
		require.NoError(t, err, "a replica with the shared key starts")
		app.Close()
	})
}

// On PostgreSQL a server without NEKSIO_MASTER_KEY refuses to generate
// one, unless told it is a single node.
func TestPostgresRequiresMasterKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Postgres, withoutWhatsAppChannel())
	cfg := *e.App.Cfg
	cfg.MasterKey, cfg.DataDir = "", t.TempDir()
	_, err := newApp(context.Background(), &cfg, quietLog)
	require.ErrorContains(t, err, "NEKSIO_MASTER_KEY is not set")
	require.ErrorContains(t, err, "NEKSIO_ALLOW_GENERATED_MASTER_KEY")
	_, statErr := os.Stat(filepath.Join(cfg.DataDir, "master.key"))
	require.ErrorIs(t, statErr, os.ErrNotExist, "no key was generated")

	// A single node opting in on a fresh database generates and keeps one.
	single := *e.App.Cfg
	single.DatabaseURL, single.MasterKey, single.DataDir, single.AllowGeneratedMasterKey = storetest.NewPostgresDB(t), "", t.TempDir(), true
	app, err := newApp(context.Background(), &single, quietLog)
	require.NoError(t, err)
	app.Close()
	app, err = newApp(context.Background(), &single, quietLog)
	require.NoError(t, err, "its restart reads the same key")
	app.Close()
}

// A database from before key fingerprints (secrets, no fingerprint): a
// key that opens none of its channels' credentials is refused and not
// recorded; the right key is.
func TestMasterKeyCheckedAgainstExistingSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d) // a connected WhatsApp channel
		_, err := e.App.Store.DB.Exec(`DELETE FROM key_fingerprints`)
		require.NoError(t, err)
		ctx := context.Background()

		other := make([]byte, 32)
		_, _ = rand.Read(other)
		cfg := *e.App.Cfg
		cfg.MasterKey = base64.StdEncoding.EncodeToString(other)
		_, err = newApp(ctx, &cfg, quietLog)
		require.ErrorIs(t, err, secret.ErrKeyMismatch)
		require.ErrorContains(t, err, "NEKSIO_MASTER_KEY")
		var n int
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM key_fingerprints`).Scan(&n))
		require.Zero(t, n, "a wrong key is not recorded")

		same := *e.App.Cfg
		app, err := newApp(ctx, &same, quietLog)
		require.NoError(t, err)
		app.Close()
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM key_fingerprints`).Scan(&n))
		require.Equal(t, 1, n)
	})
}
