package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
)

// bootstrapApp is an App on an empty database whose log goes to the
// returned buffer.
func bootstrapApp(t *testing.T, d storetest.Dialect) (*App, *bytes.Buffer) {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := &config.Config{DataDir: t.TempDir(), AutoMigrate: true, Role: "all", Addr: "127.0.0.1:8080",
		MasterKey: base64.StdEncoding.EncodeToString(key), Environ: []string{}}
	if d == storetest.Postgres {
		cfg.DatabaseURL = storetest.NewPostgresDB(t)
	}
	var logs bytes.Buffer
	app, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	t.Cleanup(app.Close)
	return app, &logs
}

// The first start's owner key, when stdout is not a terminal (a service
// manager's pipe), goes to a 0600 file in the data dir; stdout and the log
// only name that file.
func TestFirstStartKeyToFileWithoutTerminal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		app, logs := bootstrapApp(t, d)
		r, w, err := os.Pipe()
		require.NoError(t, err)
		defer r.Close()
		require.NoError(t, app.bootstrap(context.Background(), w))
		w.Close()
		stdout, err := io.ReadAll(r)
		require.NoError(t, err)

		path := filepath.Join(app.Cfg.DataDir, ownerKeyFile)
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		key := strings.TrimSpace(string(raw))
		require.True(t, strings.HasPrefix(key, "nks_"), "the file holds the key alone")
		viewer, err := app.Auth.Authenticate(context.Background(), key)
		require.NoError(t, err, "the key in the file works")
		require.Equal(t, "owner", strings.ToLower(string(viewer.Role)))

		require.NotContains(t, string(stdout), key)
		require.NotContains(t, logs.String(), key)
		require.NotContains(t, logs.String(), "nks_", "not even the key's prefix is logged")
		require.Contains(t, logs.String(), path, "the log says where the key is")

		// A second start creates nothing and leaves the file alone.
		require.NoError(t, app.bootstrap(context.Background(), w))
		again, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, raw, again)
	})
}

// On an interactive terminal the key is shown there, once, and written
// nowhere else.
func TestFirstStartKeyOnTerminal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		app, logs := bootstrapApp(t, d)
		ptmx, tty, err := pty.Open()
		require.NoError(t, err)
		defer ptmx.Close()
		shown := make(chan string, 1)
		go func() {
			var got bytes.Buffer
			buf := make([]byte, 4096)
			for !strings.Contains(got.String(), "=====\r\n\r\n") {
				n, err := ptmx.Read(buf)
				got.Write(buf[:n])
				if err != nil {
					break
				}
			}
			shown <- got.String()
		}()
		require.NoError(t, app.bootstrap(context.Background(), tty))
		tty.Close()
		var screen string
		select {
		case screen = <-shown:
		case <-time.After(30 * time.Second):
			t.Fatal("nothing shown on the terminal")
		}
		i := strings.Index(screen, "nks_")
		require.GreaterOrEqual(t, i, 0, "the key is shown: %q", screen)
		key := strings.Fields(screen[i:])[0]
		_, err = app.Auth.Authenticate(context.Background(), key)
		require.NoError(t, err, "the key shown works")
		require.NotContains(t, logs.String(), "nks_")
		_, err = os.Stat(filepath.Join(app.Cfg.DataDir, ownerKeyFile))
		require.ErrorIs(t, err, os.ErrNotExist, "no file when a terminal showed the key")
	})
}
