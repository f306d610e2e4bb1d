package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	k1, p1, h1, err := NewKey()
	require.NoError(t, err)
	k2, _, h2, err := NewKey()
	require.NoError(t, err)
	require.NotEqual(t, k1, k2)
	require.NotEqual(t, h1, h2)
	require.True(t, strings.HasPrefix(k1, "nks_"))
	require.Len(t, k1, 4+43, "32 bytes, base64url")
	require.Equal(t, k1[:12], p1)
	require.Equal(t, HashKey(k1), h1)
	require.NotContains(t, h1, k1[4:])
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	phc, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(phc, "$argon2id$v=19$m=65536,t=3,p=2$"))
	require.True(t, VerifyPassword(phc, "correct horse battery staple"))
	require.False(t, VerifyPassword(phc, "correct horse battery stapler"))
	require.False(t, VerifyPassword("$argon2id$garbage", "x"))
	other, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.NotEqual(t, phc, other, "salted")
	require.NotContains(t, phc, "correct horse")
	require.Error(t, CheckPassword("short"))
	require.Error(t, CheckPassword(strings.Repeat("x", MaxPasswordChars+1)))
	require.NoError(t, CheckPassword("ten chars!"))
}
