package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver of SQLiteDB
)

// TB is the part of testing.TB the database helpers need.
type TB interface {
	T
	Cleanup(func())
	TempDir() string
}

// ErrNoServer wraps the error of a PostgreSQL server that cannot be
// reached, as opposed to one that refused to create a database.
var ErrNoServer = errors.New("testenv: PostgreSQL server unreachable")

var validPrefix = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// CreatePostgresDB creates an empty database named prefix plus a random
// suffix on the server at adminURL and returns its name and URL. It is
// the one way tests and the benchmark create PostgreSQL databases; drop
// it with DropPostgresDB.
func CreatePostgresDB(ctx context.Context, adminURL, prefix string) (name, url string, err error) {
	if !validPrefix.MatchString(prefix) {
		return "", "", fmt.Errorf("testenv: database prefix %q: want lower-case letters, digits and _", prefix)
	}
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrNoServer, err)
	}
	defer c.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = prefix + hex.EncodeToString(b)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("testenv: creating database %s: %w", name, err)
	}
	url, err = DatabaseURL(adminURL, name)
	if err != nil {
		_ = DropPostgresDB(ctx, adminURL, name)
		return "", "", err
	}
	return name, url, nil
}

// DropPostgresDB drops a database made by CreatePostgresDB, closing the
// connections still open on it.
func DropPostgresDB(ctx context.Context, adminURL, name string) error {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// PostgresDB creates an empty database on PostgresAdminURL for one test
// and returns its URL; it is dropped when the test ends. Without the
// server the test stops as Unavailable says; a server that refuses to
// create the database fails the test.
func PostgresDB(t TB) string {
	t.Helper()
	admin := PostgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	name, url, err := CreatePostgresDB(ctx, admin, "neksio_test_")
	if errors.Is(err, ErrNoServer) {
		Unavailable(t, "PostgreSQL at "+admin, err)
		return ""
	}
	if err != nil {
		t.Fatalf("%v", err)
		return ""
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = DropPostgresDB(ctx, admin, name)
	})
	return url
}

// SQLiteDSN is the data source name of a SQLite file as the tests open
// it: foreign keys on, WAL, a busy timeout.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"
}

// SQLiteDB opens a fresh SQLite file in the test's temp dir, closed when
// the test ends.
func SQLiteDB(t TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "test.db")))
	if err != nil {
		t.Fatalf("testenv: opening SQLite: %v", err)
		return nil
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
