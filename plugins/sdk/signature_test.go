package sdk

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVerifyHubChallenge(t *testing.T) {
	t.Parallel()
	q := map[string][]string{"hub.mode": {"subscribe"}, "hub.verify_token": {"tok"}, "hub.challenge": {"1158201444"}}
	r := VerifyHubChallenge(q, "tok")
	require.Equal(t, 200, r.StatusCode)
	require.Equal(t, "1158201444", string(r.Body))
	require.Equal(t, 403, VerifyHubChallenge(q, "other").StatusCode)
	require.Equal(t, 403, VerifyHubChallenge(map[string][]string{"hub.mode": {"subscribe"}}, "").StatusCode, "empty token never matches")
	q["hub.mode"] = []string{"unsubscribe"}
	require.Equal(t, 403, VerifyHubChallenge(q, "tok").StatusCode)
}
