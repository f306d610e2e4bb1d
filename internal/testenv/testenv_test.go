package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
)

type recorder struct{ fatal, skip string }

func (r *recorder) Helper()                   {}
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }
func (r *recorder) Skipf(f string, a ...any)  { r.skip = fmt.Sprintf(f, a...) }

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		ci    string
		fatal bool
	}{{"true", true}, {"1", true}, {"", false}, {"false", false}} {
		t.Run("CI="+c.ci, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			var r recorder
			Unavailable(&r, "PostgreSQL", errors.New("refused"))
			if c.fatal {
				require.Contains(t, r.fatal, "required when CI=true")
				require.Empty(t, r.skip)
			} else {
				require.Contains(t, r.skip, "refused")
				require.Empty(t, r.fatal)
			}
		})
	}
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	u, err := DatabaseURL("postgres://bob:pw@db.internal:5433/postgres?sslmode=require", "neksio_test_1")
	require.NoError(t, err)
	require.Equal(t, "postgres://bob:pw@db.internal:5433/neksio_test_1?sslmode=require", u)
}

func TestCreateAndDropPostgresDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := PostgresAdminURL()
	name, url, err := CreatePostgresDB(ctx, admin, "neksio_kit_")
	if errors.Is(err, ErrNoServer) {
		Unavailable(t, "PostgreSQL at "+admin, err)
		return
	}
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(name, "neksio_kit_"), name)
	exists := func() bool {
		c, err := pgx.Connect(ctx, admin)
		require.NoError(t, err)
		defer c.Close(ctx)
		var n int
		require.NoError(t, c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
		return n == 1
	}
	require.True(t, exists())
	c, err := pgx.Connect(ctx, url) // the URL opens the new database
	require.NoError(t, err)
	var cur string
	require.NoError(t, c.QueryRow(ctx, "SELECT current_database()").Scan(&cur))
	require.Equal(t, name, cur)
	// An open connection does not stop the drop.
	require.NoError(t, DropPostgresDB(ctx, admin, name))
	_ = c.Close(ctx)
	require.False(t, exists())
}

func TestCreatePostgresDBErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, err := CreatePostgresDB(ctx, PostgresAdminURL(), "Bad-Prefix;")
	require.ErrorContains(t, err, "database prefix")
	_, _, err = CreatePostgresDB(ctx, "postgres://nobody@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "neksio_kit_")
	require.ErrorIs(t, err, ErrNoServer)
}

func TestSQLiteDB(t *testing.T) {
	t.Parallel()
	db := SQLiteDB(t)
	var fk int
	require.NoError(t, db.QueryRow("PRAGMA foreign_keys").Scan(&fk))
	require.Equal(t, 1, fk)
}

func TestDig(t *testing.T) {
	t.Parallel()
	v := map[string]any{"data": map[string]any{"items": []any{map[string]any{"id": "a"}, "b"}}}
	require.Equal(t, "a", Dig(v, "data", "items", 0, "id"))
	require.Equal(t, "b", Dig(v, "data", "items", 1))
	require.Nil(t, Dig(v, "data", "items", 2))
	require.Nil(t, Dig(v, "data", "missing", "id"))
	require.Nil(t, Dig(v, "data", 0))
	require.Equal(t, v, Dig(v))
}

type describer struct{ sdk.UnimplementedConnector }

func (describer) Describe(context.Context) (*sdk.Description, error) { return &sdk.Description{}, nil }

func TestGateway(t *testing.T) {
	t.Parallel()
	var c sdk.Connector = &describer{}
	got, err := Gateway(c).Get("any")
	require.NoError(t, err)
	require.True(t, got == c, "the gateway hands out its connector")
}
