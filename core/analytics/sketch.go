package analytics

import (
	"maps"
	"math"
	"slices"
)

// Percentiles come from a mergeable histogram of logarithmic buckets
// (the mapping of DDSketch): a duration of v seconds falls into bucket
// ⌈log_γ v⌉ with γ = (1+α)/(1−α), and the bucket's value 2γ^i/(γ+1) is
// within α of every value in it. The rollups keep one count per bucket
// and hour (AnalyticsHistogram), so a percentile merges the hours of the
// range, O(hours), whatever the number of facts; the base tables put
// their facts through the same buckets, so rollups and base tables still
// agree exactly. Averages stay exact (sum / count).
const SketchAccuracy = 0.01

var (
	sketchGamma    = (1 + SketchAccuracy) / (1 - SketchAccuracy)
	sketchLogGamma = math.Log(sketchGamma)
)

// bucketOf maps whole seconds to a bucket key. Keys order like the
// values: 0 is zero, positive keys positive durations, negative keys
// negative ones (a message imported with a time before its conversation).
func bucketOf(v int64) int64 {
	switch {
	case v == 0:
		return 0
	case v < 0:
		return -bucketOf(-v)
	}
	return int64(math.Ceil(math.Log(float64(v))/sketchLogGamma)) + 1
}

// bucketValue is the value a bucket stands for, rounded to whole
// seconds: within SketchAccuracy of every value in the bucket, plus at
// most half a second of rounding (durations under 50 seconds come out
// exact).
func bucketValue(k int64) float64 {
	switch {
	case k == 0:
		return 0
	case k < 0:
		return -bucketValue(-k)
	}
	return math.Round(2 * math.Pow(sketchGamma, float64(k-1)) / (sketchGamma + 1))
}

// histogram counts durations per bucket.
type histogram map[int64]int64

func (h histogram) addValue(v int64) { h[bucketOf(v)]++ }

// quantile is the nearest-rank percentile p of the histogram: the value
// of the bucket holding the smallest value with at least p of the values
// at or below it. So it is within SketchAccuracy (plus half a second) of
// the exact nearest-rank percentile (Percentile).
func (h histogram) quantile(p float64) *float64 {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return nil
	}
	rank := max(1, min(int64(math.Ceil(p*float64(n))), n))
	var seen int64
	for _, k := range slices.Sorted(maps.Keys(h)) {
		seen += h[k]
		if seen >= rank {
			v := bucketValue(k)
			return &v
		}
	}
	return nil
}

// SketchQuantile is the percentile p of values through the histogram the
// rollups keep (for tests of its accuracy).
func SketchQuantile(values []int64, p float64) *float64 {
	h := histogram{}
	for _, v := range values {
		h.addValue(v)
	}
	return h.quantile(p)
}
