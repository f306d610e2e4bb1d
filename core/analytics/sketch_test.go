package analytics_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/analytics"
)

// The histogram's percentiles are within the documented accuracy (1%,
// plus half a second of rounding to whole seconds) of the exact
// nearest-rank percentile, for durations from a second to months, and
// exact for short ones.
func TestSketchQuantileWithinAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(2000)
		vs := make([]int64, n)
		for i := range vs {
			// Log-uniform from 1 s to about 4 months, some zeros and
			// negatives (messages imported before their conversation).
			vs[i] = int64(math.Exp(rng.Float64() * math.Log(1e7)))
			switch rng.IntN(50) {
			case 0:
				vs[i] = 0
			case 1:
				vs[i] = -vs[i]
			}
		}
		sorted := slices.Sorted(slices.Values(vs))
		for _, p := range []float64{0.01, 0.1, 0.5, 0.9, 0.99, 1} {
			exact := *analytics.Percentile(sorted, p)
			got := *analytics.SketchQuantile(vs, p)
			require.LessOrEqualf(t, math.Abs(got-exact), analytics.SketchAccuracy*math.Abs(exact)+0.5,
				"round %d, p%v of %d values: sketch %v, exact %v", round, p, n, got, exact)
		}
	}
	for v := int64(0); v < 50; v++ {
		require.Equal(t, float64(v), *analytics.SketchQuantile([]int64{v}, 0.5), "short durations are exact")
	}
	// A bucket holding one distinct value reads exactly that value, at
	// any size: 2,400 s is not its bucket's value (2,417 s).
	for _, v := range []int64{2400, 3600, 86_400 + 17, 2_592_000} {
		require.Equal(t, float64(v), *analytics.SketchQuantile([]int64{v, v, v}, 0.5), "one distinct value")
		require.Equal(t, float64(-v), *analytics.SketchQuantile([]int64{-v}, 0.5), "one distinct value")
	}
	// Two values in one bucket: the answer stays between them.
	got := *analytics.SketchQuantile([]int64{2400, 2410}, 0.5)
	require.True(t, got >= 2400 && got <= 2410, "between the bucket's extremes: %v", got)
	require.Nil(t, analytics.SketchQuantile(nil, 0.5))
}
