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

// `neksio user create`: the user ID alone on stdout, the password from
// NEKSIO_PASSWORD or the first line of stdin (never a flag), an existing
// person reused.
func TestCLIUserCreate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NEKSIO_DATA_DIR", dir)
	t.Setenv("NEKSIO_DATABASE_URL", "")
	t.Setenv("NEKSIO_PASSWORD", "")
	out, err := run(t, "workspace", "create", "--name", "Acme")
	require.NoError(t, err)
	wsID := strings.TrimSpace(out)
	out, err = run(t, "workspace", "create", "--name", "Other")
	require.NoError(t, err)
	otherID := strings.TrimSpace(out)

	runIn := func(stdin string, args ...string) (string, error) {
		root := rootCmd()
		var o, e bytes.Buffer
		root.SetOut(&o)
		root.SetErr(&e)
		root.SetIn(strings.NewReader(stdin))
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return o.String(), err
	}
	// From stdin's first line.
	out, err = runIn("correct horse battery staple\nignored\n", "user", "create", "--email", "Ann@Example.com", "--workspace", wsID, "--role", "owner")
	require.NoError(t, err)
	id := strings.TrimSpace(out)
	require.Equal(t, id+"\n", out, "the ID alone on stdout")
	require.Regexp(t, regexp.MustCompile(`^usr_[0-9A-Z]{26}$`), id)
	// The same person joins another workspace, without a password.
	out, err = runIn("", "user", "create", "--email", "ann@example.com", "--workspace", otherID, "--role", "agent")
	require.NoError(t, err)
	require.Equal(t, id+"\n", out)
	// From NEKSIO_PASSWORD; too short is refused; no password flag exists.
	t.Setenv("NEKSIO_PASSWORD", "short")
	_, err = runIn("", "user", "create", "--email", "bob@example.com", "--workspace", wsID)
	require.ErrorContains(t, err, "at least 10 characters")
	t.Setenv("NEKSIO_PASSWORD", "another good password")
	out, err = runIn("", "user", "create", "--email", "bob@example.com", "--workspace", wsID, "--role", "analyst")
	require.NoError(t, err)
	require.NotEqual(t, id, strings.TrimSpace(out))
	_, err = runIn("", "user", "create", "--email", "carl@example.com", "--workspace", wsID, "--password", "x")
	require.Error(t, err)
	_, err = runIn("", "user", "create", "--email", "carl@example.com", "--workspace", wsID, "--role", "emperor")
	require.Error(t, err)

	// Ann signs in, by default into her first workspace, as its owner.
	s, err := store.OpenSQLite(dir + "/neksio.db")
	require.NoError(t, err)
	defer s.Close()
	a := &auth.Service{Store: s}
	in, err := a.SignIn(context.Background(), "ann@example.com", "correct horse battery staple")
	require.NoError(t, err)
	v, err := a.AuthenticateBearer(context.Background(), in.Token, "")
	require.NoError(t, err)
	require.Equal(t, wsID, v.WorkspaceID)
	require.Equal(t, "OWNER", string(v.Role))
	v, err = a.AuthenticateBearer(context.Background(), in.Token, otherID)
	require.NoError(t, err)
	require.Equal(t, "AGENT", string(v.Role))
}
