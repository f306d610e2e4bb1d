package vector_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/vector"
)

// BenchmarkEmbeddedSearch measures a warm search of one workspace against a
// brute-force baseline in the same run: the same vectors as [][]float32,
// full cosine per vector (norms included), sort, take k. The lead wires this
// into make bench; the 100k case is left out under -short (loading it into
// SQLite takes a while).
func BenchmarkEmbeddedSearch(b *testing.B) {
	const dim, k = 384, 10
	for _, n := range []int{10_000, 100_000} {
		if n > 10_000 && testing.Short() {
			continue
		}
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		vecs := make([][]float32, n)
		for i := range vecs {
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(rng.NormFloat64())
			}
			vecs[i] = v
		}
		query := vecs[n/2]
		space := vector.Space{Model: "bench", Dimension: dim}
		ctx := context.Background()
		store := newEmbedded(b, openSQLite(b), vector.DialectSQLite)
		recs := make([]vector.Record, 0, 1000)
		for i, v := range vecs {
			recs = append(recs, vector.Record{ID: fmt.Sprintf("c%07d", i), WorkspaceID: "ws", DocumentID: fmt.Sprintf("d%d", i/20), Vector: v})
			if len(recs) == cap(recs) || i == n-1 {
				require.NoError(b, store.Upsert(ctx, space, recs))
				recs = recs[:0]
			}
		}
		// Warm the cache: the benchmark measures the steady state.
		_, err := store.Search(ctx, space, "ws", query, k, vector.Filter{})
		require.NoError(b, err)

		b.Run(fmt.Sprintf("n=%d/embedded", n), func(b *testing.B) {
			for b.Loop() {
				hits, err := store.Search(ctx, space, "ws", query, k, vector.Filter{})
				if err != nil || len(hits) != k {
					b.Fatalf("search: %v, %d hits", err, len(hits))
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
		})
		b.Run(fmt.Sprintf("n=%d/bruteforce", n), func(b *testing.B) {
			type scored struct {
				i     int
				score float64
			}
			all := make([]scored, n)
			for b.Loop() {
				for i, v := range vecs {
					var d, nq, nv float64
					for j := range v {
						d += float64(query[j]) * float64(v[j])
						nq += float64(query[j]) * float64(query[j])
						nv += float64(v[j]) * float64(v[j])
					}
					all[i] = scored{i, d / math.Sqrt(nq*nv)}
				}
				sort.Slice(all, func(a, c int) bool { return all[a].score > all[c].score })
				if all[0].i != n/2 {
					b.Fatal("baseline lost the query vector")
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
		})
	}
}
