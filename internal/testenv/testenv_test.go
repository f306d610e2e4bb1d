package testenv

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
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
