package vector_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/vector/milvuslite"
	"github.com/neksio/neksio/internal/testenv"
)

// Shared services, started on first use and stopped by TestMain, so the
// package starts one Milvus Lite and creates one Postgres database per run.
var (
	pgOnce    sync.Once
	pgDB      *sql.DB
	pgName    string
	pgErr     error
	pgAdmin   = testenv.PostgresAdminURL()
	milvusMu  sync.Mutex
	milvusSrv *milvuslite.Server
	milvusErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if milvusSrv != nil {
		_ = milvusSrv.Stop()
	}
	if pgDB != nil {
		_ = pgDB.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := testenv.DropPostgresDB(ctx, pgAdmin, pgName); err != nil {
			fmt.Fprintln(os.Stderr, "drop test database:", err)
		}
		cancel()
	}
	os.Exit(code)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openSQLite opens a fresh SQLite database file for one test.
func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	return testenv.SQLiteDB(t)
}

// postgres returns the run's database, creating it on first use.
func postgres(t testing.TB) *sql.DB {
	t.Helper()
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		name, url, err := testenv.CreatePostgresDB(ctx, pgAdmin, "neksio_vec_")
		if err != nil {
			pgErr = err
			return
		}
		pgName = name
		db, err := sql.Open("pgx", url)
		if err == nil {
			err = db.PingContext(ctx)
		}
		pgDB, pgErr = db, err
	})
	if pgErr != nil {
		testenv.Unavailable(t, "PostgreSQL at "+pgAdmin, pgErr)
	}
	return pgDB
}

// milvusAddr returns the address of the run's Milvus Lite.
func milvusAddr(t testing.TB) string {
	t.Helper()
	milvuslite.Require(t)
	milvusMu.Lock()
	defer milvusMu.Unlock()
	if milvusSrv == nil && milvusErr == nil {
		milvusSrv, milvusErr = milvuslite.Start(context.Background(), milvuslite.Options{})
	}
	require.NoError(t, milvusErr, "start Milvus Lite")
	return milvusSrv.Addr
}

func newEmbedded(t testing.TB, db *sql.DB, dialect string, opts ...vector.EmbeddedOption) *vector.Embedded {
	t.Helper()
	s, err := vector.NewEmbedded(db, dialect, opts...)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newMilvus(t testing.TB, cfg vector.MilvusConfig) *vector.Milvus {
	t.Helper()
	cfg.Address = milvusAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := vector.NewMilvus(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// backend opens a store for a test. Stores on shared services keep tests
// apart by unique workspace IDs and collection prefixes.
type backend struct {
	name string
	open func(t *testing.T) vector.Store
}

func backends() []backend {
	return []backend{
		{"embedded-sqlite", func(t *testing.T) vector.Store {
			return newEmbedded(t, openSQLite(t), vector.DialectSQLite)
		}},
		{"embedded-postgres", func(t *testing.T) vector.Store {
			return newEmbedded(t, postgres(t), vector.DialectPostgres)
		}},
		{"milvus-lite", func(t *testing.T) vector.Store {
			return newMilvus(t, vector.MilvusConfig{CollectionPrefix: "t" + randHex(4) + "_"})
		}},
	}
}
