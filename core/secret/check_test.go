package secret

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
)

func newBox(t *testing.T) (*Box, []byte) {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, err := New(key)
	require.NoError(t, err)
	return b, key
}

// The first key recorded is the database's; the same key passes again,
// another key is refused.
func TestCheckKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		s := storetest.Open(t, d)
		first, key := newBox(t)
		require.NoError(t, CheckKey(ctx, s, first, nil))
		again, err := New(key)
		require.NoError(t, err)
		require.NoError(t, CheckKey(ctx, s, again, nil), "a restart with the same key")

		other, _ := newBox(t)
		require.ErrorIs(t, CheckKey(ctx, s, other, nil), ErrKeyMismatch)

		// Only the fingerprint is stored, never the key.
		var fp string
		require.NoError(t, s.DB.QueryRow(`SELECT fingerprint FROM key_fingerprints`).Scan(&fp))
		require.Equal(t, first.Fingerprint(), fp)
		require.NotContains(t, fp, base64.StdEncoding.EncodeToString(key)[:20])
		require.NotEqual(t, first.Fingerprint(), other.Fingerprint())
	})
}

// Replicas with different keys starting at once on an empty database:
// exactly one key wins, the others are refused.
func TestCheckKeyRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			b, _ := newBox(t)
			wg.Go(func() { errs[i] = CheckKey(context.Background(), s, b, nil) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				require.ErrorIs(t, err, ErrKeyMismatch)
			}
		}
		require.Equal(t, 1, ok)
	})
}

// On a database without a fingerprint, the check of existing secrets runs
// first: refused, nothing is recorded.
func TestCheckKeyExisting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		s := storetest.Open(t, d)
		wrong, _ := newBox(t)
		refuse := func(context.Context) error { return ErrKeyMismatch }
		require.ErrorIs(t, CheckKey(ctx, s, wrong, refuse), ErrKeyMismatch)
		var n int
		require.NoError(t, s.DB.QueryRow(`SELECT count(*) FROM key_fingerprints`).Scan(&n))
		require.Zero(t, n)

		right, _ := newBox(t)
		calls := 0
		accept := func(context.Context) error { calls++; return nil }
		require.NoError(t, CheckKey(ctx, s, right, accept))
		require.NoError(t, CheckKey(ctx, s, right, accept))
		require.Equal(t, 1, calls, "once recorded, the fingerprint decides")
		require.ErrorIs(t, CheckKey(ctx, s, wrong, accept), ErrKeyMismatch)
	})
}
