package analytics

import (
	"maps"
	"math"
	"slices"
)

// Percentiles come from a mergeable histogram of logarithmic buckets
// (the mapping of DDSketch): a duration of v seconds falls into bucket
// ⌈log_γ v⌉ with γ = (1+α)/(1−α), and the bucket's value 2γ^i/(γ+1) is
// within α of every value in it. The rollups keep, per bucket and hour
// (AnalyticsHistogram), the count and the least and greatest value in
// it, so a percentile merges the hours of the
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

// bin is one bucket of a histogram: how many values fell into it and
// the least and greatest of them. Bins merge (counts add, extremes take
// the min and max), so hours and base-table facts combine in any order.
type bin struct{ n, lo, hi int64 }

func (b bin) merge(o bin) bin {
	switch {
	case b.n == 0:
		return o
	case o.n == 0:
		return b
	}
	return bin{b.n + o.n, min(b.lo, o.lo), max(b.hi, o.hi)}
}

// value is what the bucket k reads as: its value clamped to the least
// and greatest value it holds. A bucket holding one distinct value (the
// common case for a small workspace or a short range) reads exactly
// that value; otherwise the exact percentile lies between the extremes,
// so clamping never moves the answer further from it than the bucket's
// value (within SketchAccuracy).
func (b bin) value(k int64) float64 {
	return min(max(bucketValue(k), float64(b.lo)), float64(b.hi))
}

// histogram counts durations per bucket.
type histogram map[int64]bin

func (h histogram) add(k int64, b bin) { h[k] = h[k].merge(b) }

func (h histogram) addValue(v int64) { h.add(bucketOf(v), bin{1, v, v}) }

// quantile is the nearest-rank percentile p of the histogram: the value
// of the bucket holding the smallest value with at least p of the values
// at or below it (bin.value). So it is within SketchAccuracy (plus half
// a second) of the exact nearest-rank percentile (Percentile), and equal
// to it when that bucket holds one distinct value.
func (h histogram) quantile(p float64) *float64 {
	var n int64
	for _, b := range h {
		n += b.n
	}
	if n == 0 {
		return nil
	}
	rank := max(1, min(int64(math.Ceil(p*float64(n))), n))
	var seen int64
	for _, k := range slices.Sorted(maps.Keys(h)) {
		seen += h[k].n
		if seen >= rank {
			v := h[k].value(k)
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
