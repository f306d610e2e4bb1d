// Package storetest opens fresh, migrated databases for tests: a SQLite
// file in a temp dir, and a new PostgreSQL database per call at
// NEKSIO_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432),
// dropped when the test ends. Without PostgreSQL the Postgres half is
// skipped with a message — except with CI=true, where it fails: CI must
// never pass by skipping.
package storetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/internal/testenv"
)

// Dialect names a database engine under test.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Dialects lists both engines.
var Dialects = []Dialect{SQLite, Postgres}

// AdminURL is the PostgreSQL server tests create databases on.
func AdminURL() string { return testenv.PostgresAdminURL() }

// Open returns a migrated store of the given dialect with an insert-only
// River client installed, closed at the end of the test.
func Open(t testing.TB, d Dialect) *store.Store {
	t.Helper()
	ctx := context.Background()
	var s *store.Store
	var err error
	switch d {
	case SQLite:
		s, err = store.OpenSQLite(filepath.Join(t.TempDir(), "neksio.db"))
		require.NoError(t, err)
	case Postgres:
		url := NewPostgresDB(t)
		s, err = store.OpenPostgres(ctx, url)
		require.NoError(t, err)
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Migrate(ctx))
	client, err := river.NewClient(s.Driver, &river.Config{})
	require.NoError(t, err)
	s.SetJobs(client)
	usePgxJobs(t, s)
	return s
}

// Each runs fn as a subtest per dialect.
func Each(t *testing.T, fn func(t *testing.T, d Dialect)) {
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// NewPostgresDB creates an empty database and returns its URL; it is
// dropped when the test ends (testenv.PostgresDB).
func NewPostgresDB(t testing.TB) string {
	t.Helper()
	return testenv.PostgresDB(t)
}

// CountJobs returns how many River jobs of a kind exist.
func CountJobs(t testing.TB, db *sql.DB, kind string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM river_job WHERE kind = '"+kind+"'").Scan(&n))
	return n
}

// usePgxJobs makes a PostgreSQL store insert jobs through River's pgx
// driver, as `neksio serve` does.
func usePgxJobs(t testing.TB, s *store.Store) {
	t.Helper()
	if s.Pool == nil {
		return
	}
	client, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	require.NoError(t, err)
	s.SetPgxJobs(client)
}

// WhatsAppChannel creates a workspace with a WhatsApp channel (external
// ID "1") and returns the channel and a system viewer's context for its
// workspace: the set-up of a test that ingests.
func WhatsAppChannel(t testing.TB, s *store.Store) (context.Context, *ent.Channel) {
	t.Helper()
	ctx := context.Background()
	w, err := workspace.Create(ctx, s, "W")
	require.NoError(t, err)
	sys := tenant.NewContext(ctx, tenant.System(string(w.ID), "test"))
	ch, err := s.Ent.Channel.Create().SetWorkspaceID(w.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID("1").Save(sys)
	require.NoError(t, err)
	return sys, ch
}
