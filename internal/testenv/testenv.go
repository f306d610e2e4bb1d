// Package testenv is the test kit every test and the benchmark share:
//   - the one policy for a missing outside service (Unavailable): with
//     CI=true it fails the run; elsewhere the test is skipped with the
//     reason;
//   - the PostgreSQL server tests and benchmarks use (PostgresAdminURL)
//     and the one way to create and drop a uniquely named database on it
//     (CreatePostgresDB, DropPostgresDB; PostgresDB for one test);
//   - fresh SQLite files for a test (SQLiteDB);
//   - fakes: Gateway, a connector gateway answering every name with one
//     connector;
//   - LogBuffer, a log's output that other goroutines write while the
//     test reads it.
//
// core/store/storetest builds migrated stores on both engines from it. It
// imports nothing of the app but the SDK's types, nor the testing
// package, so the benchmark binary can use it too; only tests, the kit's
// own packages and bench/ may import it (internal/archtest).
package testenv

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
)

// CI reports whether CI is set to a true value ("true", "1", ...).
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// T is the part of testing.TB Unavailable needs.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Unavailable stops a test whose service is missing: a failure with
// CI=true, a skip with the reason otherwise.
func Unavailable(t T, what string, err error) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is required when CI=true: %v", what, err)
		return
	}
	t.Skipf("skipping: %s unavailable: %v (set CI=true to make this fatal)", what, err)
}

// PostgresAdminURL is the server tests create databases on:
// NEKSIO_TEST_POSTGRES_URL, else the machine's local server.
func PostgresAdminURL() string {
	if u := os.Getenv("NEKSIO_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// DatabaseURL is adminURL pointed at database name, keeping its user,
// host, port and options.
func DatabaseURL(adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("testenv: parsing %q: %w", adminURL, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
