package sdk_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":            0,
		"  ":          0,
		"abc":         0,
		"-3":          0,
		"0":           0,
		"NaN":         0,
		"7":           7 * time.Second,
		" 2 ":         2 * time.Second,
		"1.5":         1500 * time.Millisecond,
		"99999999999": 24 * time.Hour,
		"1e300":       24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		now.Add(72 * time.Hour).Format(http.TimeFormat):   24 * time.Hour,
	} {
		require.Equal(t, want, sdk.ParseRetryAfter(in, now), "%q", in)
	}
}
