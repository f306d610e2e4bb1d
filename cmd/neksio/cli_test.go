package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/store"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := rootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// The CLI contract scripts rely on: IDs and keys alone on stdout.
func TestCLIContract(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NEKSIO_DATA_DIR", dir)
	t.Setenv("NEKSIO_DATABASE_URL", "")

	_, err := run(t, "migrate")
	require.NoError(t, err)

	out, err := run(t, "workspace", "create", "--name", "Acme")
	require.NoError(t, err)
	wsID := strings.TrimSpace(out)
	require.Regexp(t, regexp.MustCompile(`^ws_[0-9A-Z]{26}$`), wsID)
	require.Equal(t, wsID+"\n", out, "the ID alone on stdout")

	out, err = run(t, "apikey", "create", "--workspace", wsID, "--role", "owner")
	require.NoError(t, err)
	key := strings.TrimSpace(out)
	require.Equal(t, key+"\n", out)
	require.Regexp(t, regexp.MustCompile(`^nks_[A-Za-z0-9_-]{43}$`), key)

	// The key authenticates as an owner of that workspace.
	s, err := store.OpenSQLite(dir + "/neksio.db")
	require.NoError(t, err)
	defer s.Close()
	v, err := (&auth.Service{Store: s}).Authenticate(context.Background(), key)
	require.NoError(t, err)
	require.Equal(t, wsID, v.WorkspaceID)
	require.Equal(t, "OWNER", string(v.Role))

	_, err = run(t, "apikey", "create", "--workspace", wsID, "--role", "emperor")
	require.Error(t, err)
	_, err = run(t, "apikey", "create", "--workspace", "ws_01JD3V0000000000000000000A", "--role", "owner")
	require.Error(t, err)
	_, err = run(t, "workspace", "create", "--name", "  ")
	require.Error(t, err)
}
