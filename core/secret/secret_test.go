package secret

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	key[0] = 7
	box, err := New(key)
	require.NoError(t, err)

	ct, err := box.Seal([]byte("EAAG-token"), []byte("ch_1"))
	require.NoError(t, err)
	require.NotContains(t, string(ct), "EAAG-token")

	pt, err := box.Open(ct, []byte("ch_1"))
	require.NoError(t, err)
	require.Equal(t, "EAAG-token", string(pt))

	_, err = box.Open(ct, []byte("ch_2"))
	require.ErrorIs(t, err, ErrDecrypt, "ciphertext moved to another row must not open")

	other, _ := New(make([]byte, 32))
	_, err = other.Open(ct, []byte("ch_1"))
	require.ErrorIs(t, err, ErrDecrypt)

	ct[len(ct)-1] ^= 1
	_, err = box.Open(ct, []byte("ch_1"))
	require.ErrorIs(t, err, ErrDecrypt)

	_, err = box.Open([]byte{1, 2}, nil)
	require.ErrorIs(t, err, ErrDecrypt)
}

func TestLoadKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, gen, err := LoadKey("", dir)
	require.NoError(t, err)
	require.True(t, gen)
	require.Len(t, k1, 32)
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	k2, gen, err := LoadKey("", dir)
	require.NoError(t, err)
	require.False(t, gen)
	require.Equal(t, k1, k2)

	env := base64.StdEncoding.EncodeToString(make([]byte, 32))
	k3, _, err := LoadKey(env, dir)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 32), k3)

	_, _, err = LoadKey("bm90LTMyLWJ5dGVz", dir)
	require.Error(t, err)
}

func TestDeriveKey(t *testing.T) {
	k1 := make([]byte, 32)
	k2 := make([]byte, 32)
	k2[0] = 1
	b1, err := New(k1)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := New(k2)
	a, _ := b1.DeriveKey("media url signing")
	again, _ := b1.DeriveKey("media url signing")
	other, _ := b1.DeriveKey("something else")
	fromOtherKey, _ := b2.DeriveKey("media url signing")
	if len(a) != 32 || string(a) != string(again) {
		t.Fatalf("derivation is not stable: %x %x", a, again)
	}
	if string(a) == string(other) || string(a) == string(fromOtherKey) || string(a) == string(k1) {
		t.Fatal("derived keys must differ per purpose and per master key, and from the master key")
	}
}
