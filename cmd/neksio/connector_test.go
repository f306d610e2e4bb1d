package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Request quotas: Google's 300 a minute by default, any connector's from
// NEKSIO_<CONNECTOR>_REQUESTS_PER_MINUTE (0 turns it off), and a value
// that is not a count refused with the setting's name.
func TestRequestQuotas(t *testing.T) {
	t.Parallel()
	q, err := requestQuotas(nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"google": 300}, q)
	q, err = requestQuotas([]string{"NEKSIO_GOOGLE_REQUESTS_PER_MINUTE=0", "NEKSIO_MY_RELAY_REQUESTS_PER_MINUTE= 60",
		"NEKSIO_GOOGLE_CLIENT_ID=x", "OTHER_REQUESTS_PER_MINUTE=5"})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"google": 0, "my_relay": 60}, q)
	for _, bad := range []string{"NEKSIO_GOOGLE_REQUESTS_PER_MINUTE=fast", "NEKSIO_GOOGLE_REQUESTS_PER_MINUTE=-1"} {
		_, err = requestQuotas([]string{bad})
		require.ErrorContains(t, err, "NEKSIO_GOOGLE_REQUESTS_PER_MINUTE")
	}
}
