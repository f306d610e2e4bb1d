package secret_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/secret"
)

func TestSignedLinks(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Minute).Unix()
	e := strconv.FormatInt(exp, 10)
	sig := secret.SignLink(key, "export", "exp_1", exp)

	require.NoError(t, secret.VerifyLink(key, "export", "exp_1", e, sig, now))
	require.ErrorIs(t, secret.VerifyLink(key, "export", "exp_1", e, sig, now.Add(2*time.Minute)), secret.ErrLinkExpired)
	for name, err := range map[string]error{
		"another id":      secret.VerifyLink(key, "export", "exp_2", e, sig, now),
		"another purpose": secret.VerifyLink(key, "", "exp_1", e, sig, now),
		"another expiry":  secret.VerifyLink(key, "export", "exp_1", strconv.FormatInt(exp+3600, 10), sig, now),
		"malformed":       secret.VerifyLink(key, "export", "exp_1", "soon", sig, now),
		"no signature":    secret.VerifyLink(key, "export", "exp_1", e, "", now),
		"no key":          secret.VerifyLink(nil, "export", "exp_1", e, secret.SignLink(nil, "export", "exp_1", exp), now),
	} {
		require.ErrorIs(t, err, secret.ErrLinkSignature, name)
	}
}
