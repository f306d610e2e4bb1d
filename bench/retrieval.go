package main

import (
	"container/heap"
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/vector/milvuslite"
)

const retrievalK = 5

// benchRetrieval loads clustered 384-dimension vectors into the embedded
// store (on PostgreSQL) and into Milvus Lite, and compares their searches
// with exact brute-force search over the same vectors: latency and
// recall@5.
func benchRetrieval(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "vector retrieval: embedded store and Milvus Lite vs exact search"
	r.Baseline = "exact brute-force cosine search over the same vectors in this process (normalized float32 stored contiguously, unrolled dot product, top-k heap; one core), which also defines recall"
	const dim = 384
	n := e.cfg.sized(100_000, 200)
	queries := e.cfg.sized(300, 20)
	milvusBudget := e.cfg.timed(100*time.Second, 5*time.Second)
	r.param("chunks", n)
	r.param("dimension", dim)
	r.param("queries", queries)
	r.param("k", retrievalK)

	data, qs := clusteredVectors(n, queries, dim)
	space := vector.Space{Model: "bench-random", Dimension: dim}
	const ws = "ws_bench"
	exact := newExact(data)

	// The embedded store, on PostgreSQL as in production.
	dbURL, err := e.newDB(ctx)
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	emb, err := vector.NewEmbedded(db, vector.DialectPostgres)
	if err != nil {
		return err
	}
	defer emb.Close()
	if err := emb.Migrate(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	if err := loadVectors(ctx, emb, space, ws, data, len(data), 1000, 0); err != nil {
		return fmt.Errorf("embedded upsert: %w", err)
	}
	r.detail("embedded_load_vectors_per_second", round3(float64(n)/time.Since(t0).Seconds()))
	embLat, exLat, embRecall, err := compareSearch(ctx, emb, space, ws, qs, exact)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	r.latencyMetrics("embedded search", embLat, exLat)
	r.metric("embedded recall@5", "fraction", "higher", embRecall, 1)
	exact = nil

	// Milvus Lite, as many vectors as load within the budget.
	srv, err := milvuslite.Start(ctx, milvuslite.Options{})
	if err != nil {
		r.Note = "Milvus Lite not measured: " + err.Error()
		r.Metrics = append(r.Metrics,
			Metric{Name: "milvus search p50", Unit: "ms", Better: "lower", Unavailable: true},
			Metric{Name: "milvus search p99", Unit: "ms", Better: "lower", Unavailable: true},
			Metric{Name: "milvus recall@5", Unit: "fraction", Better: "higher", Baseline: 1, Unavailable: true})
		return nil
	}
	defer srv.Stop()
	mv, err := vector.NewMilvus(ctx, vector.MilvusConfig{Address: srv.Addr, CollectionPrefix: "bench_"})
	if err != nil {
		return err
	}
	defer mv.Close()
	t0 = time.Now()
	loaded := 0
	err = loadVectors(ctx, mv, space, ws, data, len(data), 1000, milvusBudget)
	if n, ok := err.(*budgetSpent); ok {
		loaded, err = n.loaded, nil
	} else if err == nil {
		loaded = len(data)
	}
	if err != nil {
		return fmt.Errorf("milvus upsert: %w", err)
	}
	secs := time.Since(t0).Seconds()
	r.param("milvus_chunks", loaded)
	r.detail("milvus_load_vectors_per_second", round3(float64(loaded)/secs))
	mvLat, mvExLat, mvRecall, err := compareSearch(ctx, mv, space, ws, qs, newExact(data[:loaded]))
	if err != nil {
		return fmt.Errorf("milvus: %w", err)
	}
	r.latencyMetrics("milvus search", mvLat, mvExLat)
	r.metric("milvus recall@5", "fraction", "higher", mvRecall, 1)
	r.Note = fmt.Sprintf("Milvus Lite loads about %.0f vectors/s here, so it holds the first %d of the %d chunks (what loads in %.0fs); its baseline is exact search over those %d. The embedded store holds all %d.",
		float64(loaded)/secs, loaded, n, milvusBudget.Seconds(), loaded, n)
	return nil
}

type budgetSpent struct{ loaded int }

func (b *budgetSpent) Error() string {
	return fmt.Sprintf("load budget spent after %d vectors", b.loaded)
}

// loadVectors upserts data[:n] in batches; with a budget it stops after
// the batch that crosses it and returns *budgetSpent.
func loadVectors(ctx context.Context, s vector.Store, space vector.Space, ws string, data [][]float32, n, batch int, budget time.Duration) error {
	start := time.Now()
	for i := 0; i < n; i += batch {
		recs := make([]vector.Record, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			recs = append(recs, vector.Record{ID: fmt.Sprintf("kc%07d", j), WorkspaceID: ws, DocumentID: fmt.Sprintf("kd%05d", j/20), Vector: data[j]})
		}
		if err := s.Upsert(ctx, space, recs); err != nil {
			return err
		}
		if budget > 0 && time.Since(start) > budget && i+batch < n {
			return &budgetSpent{loaded: i + len(recs)}
		}
	}
	return nil
}

// compareSearch runs every query on the store and on exact search,
// alternating, and returns both latency summaries and the store's recall@k.
func compareSearch(ctx context.Context, s vector.Store, space vector.Space, ws string, qs [][]float32, ex *exactIndex) (summary, summary, float64, error) {
	// Warm: the embedded store loads the workspace on its first search.
	if _, err := s.Search(ctx, space, ws, qs[0], retrievalK, vector.Filter{}); err != nil {
		return summary{}, summary{}, 0, err
	}
	var st, bl latencies
	var recall float64
	for _, q := range qs {
		t0 := time.Now()
		want := ex.search(q, retrievalK)
		bl.add(time.Since(t0))
		t0 = time.Now()
		hits, err := s.Search(ctx, space, ws, q, retrievalK, vector.Filter{})
		st.add(time.Since(t0))
		if err != nil {
			return summary{}, summary{}, 0, err
		}
		found := 0
		for _, h := range hits {
			for _, w := range want {
				if h.ID == fmt.Sprintf("kc%07d", w) {
					found++
					break
				}
			}
		}
		recall += float64(found) / float64(len(want))
	}
	return st.summary(), bl.summary(), round3(recall / float64(len(qs))), nil
}

// clusteredVectors returns n vectors around n/100 centroids and queries
// near random members: nearest neighbours are meaningful, as for text.
func clusteredVectors(n, nq, dim int) (data, queries [][]float32) {
	rng := rand.New(rand.NewPCG(7, 11))
	centroids := make([][]float32, max(10, n/100))
	for i := range centroids {
		centroids[i] = gaussian(rng, nil, dim, 1)
	}
	data = make([][]float32, n)
	for i := range data {
		data[i] = gaussian(rng, centroids[rng.IntN(len(centroids))], dim, 0.8)
	}
	queries = make([][]float32, nq)
	for i := range queries {
		queries[i] = gaussian(rng, data[rng.IntN(n)], dim, 0.3)
	}
	return data, queries
}

func gaussian(rng *rand.Rand, around []float32, dim int, sigma float64) []float32 {
	v := make([]float32, dim)
	for j := range v {
		x := rng.NormFloat64() * sigma
		if around != nil {
			x += float64(around[j])
		}
		v[j] = float32(x)
	}
	return v
}

// exactIndex is brute-force cosine search over normalized copies stored
// contiguously, with an unrolled dot product and a threshold check before
// the heap: about the best one core does without SIMD or an index.
type exactIndex struct {
	dim  int
	flat []float32
}

func newExact(data [][]float32) *exactIndex {
	ex := &exactIndex{}
	if len(data) == 0 {
		return ex
	}
	ex.dim = len(data[0])
	ex.flat = make([]float32, 0, len(data)*ex.dim)
	for _, v := range data {
		ex.flat = append(ex.flat, normalized(v)...)
	}
	return ex
}

func normalized(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := float32(math.Sqrt(s))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x / n
	}
	return out
}

func dot4(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

type scored struct {
	i int
	s float32
}
type minHeap []scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(a, b int) bool { return h[a].s < h[b].s }
func (h minHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }

// search returns the indexes of the k nearest vectors, best first.
func (ex *exactIndex) search(q []float32, k int) []int {
	qn := normalized(q)
	h := make(minHeap, 0, k+1)
	n := len(ex.flat) / max(ex.dim, 1)
	for i := range n {
		d := dot4(qn, ex.flat[i*ex.dim:(i+1)*ex.dim])
		if len(h) < k {
			heap.Push(&h, scored{i, d})
		} else if d > h[0].s {
			h[0] = scored{i, d}
			heap.Fix(&h, 0)
		}
	}
	out := make([]int, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(scored).i
	}
	return out
}
