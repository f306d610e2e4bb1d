package vector_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/vector"
)

var space8 = vector.Space{Model: "conformance-model", Dimension: 8}

// unit returns the i-th basis vector of dimension dim.
func unit(dim, i int) []float32 {
	v := make([]float32, dim)
	v[i] = 1
	return v
}

// angled returns a vector whose cosine with e0 is cos (in the e0-e1 plane),
// scaled by scale to show that stores normalize.
func angled(cos, scale float64) []float32 {
	v := make([]float32, space8.Dimension)
	v[0] = float32(cos * scale)
	v[1] = float32(math.Sqrt(1-cos*cos) * scale)
	return v
}

func hitIDs(hits []vector.Hit) []string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return ids
}

func hitDocs(hits []vector.Hit) []string {
	docs := make([]string, 0, len(hits))
	for _, h := range hits {
		if !slices.Contains(docs, h.DocumentID) {
			docs = append(docs, h.DocumentID)
		}
	}
	sort.Strings(docs)
	return docs
}

// TestConformance runs one suite against every store, so the embedded store
// and Milvus behave the same for the callers in core/knowledge and core/agent.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store := b.open(t)
			ctx := context.Background()
			ws := func() string { return "ws_" + randHex(6) }
			// Cases run in sequence: each uses its own workspaces, and Milvus
			// Lite on two shared cores gains nothing from parallel calls.

			t.Run("read your writes", func(t *testing.T) {
				w := ws()
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: w, DocumentID: "d1", Vector: unit(8, 3)}}))
				hits, err := store.Search(ctx, space8, w, unit(8, 3), 5, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 1)
				require.Equal(t, "c1", hits[0].ID)
				require.Equal(t, "d1", hits[0].DocumentID)
				require.InDelta(t, 1.0, hits[0].Score, 1e-4)
			})

			t.Run("top-k ordered by cosine", func(t *testing.T) {
				w := ws()
				cosines := map[string]float64{"a": 0.99, "b": 0.8, "c": 0.5, "d": 0.0, "e": -0.6}
				var recs []vector.Record
				for id, c := range cosines {
					// Scales differ so a store ranking by dot product or L2
					// distance instead of cosine gets the order wrong.
					recs = append(recs, vector.Record{ID: id, WorkspaceID: w, DocumentID: "doc", Vector: angled(c, 1+10*c*c)})
				}
				require.NoError(t, store.Upsert(ctx, space8, recs))
				hits, err := store.Search(ctx, space8, w, angled(1, 3), 3, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, []string{"a", "b", "c"}, hitIDs(hits))
				for _, h := range hits {
					require.InDelta(t, cosines[h.ID], h.Score, 1e-4, h.ID)
				}
				all, err := store.Search(ctx, space8, w, angled(1, 3), 5, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, []string{"a", "b", "c", "d", "e"}, hitIDs(all))
				require.InDelta(t, -0.6, all[4].Score, 1e-4)
			})

			t.Run("workspace isolation", func(t *testing.T) {
				a := ws()
				// A workspace ID crafted to break out of a quoted filter.
				b := a + `" || workspace_id != "\`
				for _, w := range []string{a, b} {
					// Same chunk IDs and vectors in both workspaces.
					require.NoError(t, store.Upsert(ctx, space8, []vector.Record{
						{ID: "c1", WorkspaceID: w, DocumentID: "doc-" + w, Vector: unit(8, 0)},
						{ID: "c2", WorkspaceID: w, DocumentID: "doc-" + w, Vector: unit(8, 1)},
					}))
				}
				for _, w := range []string{a, b} {
					hits, err := store.Search(ctx, space8, w, unit(8, 0), 10, vector.Filter{})
					require.NoError(t, err)
					require.Len(t, hits, 2, w)
					require.Equal(t, []string{"doc-" + w}, hitDocs(hits), "search in %q returned another workspace's vectors", w)
				}
				// Deleting b's document leaves a's records alone.
				require.NoError(t, store.DeleteDocument(ctx, space8, b, "doc-"+b))
				hits, err := store.Search(ctx, space8, a, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 2)
				hits, err = store.Search(ctx, space8, b, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
				// A document ID of workspace a, deleted through workspace b,
				// stays.
				require.NoError(t, store.DeleteDocument(ctx, space8, b, "doc-"+a))
				hits, err = store.Search(ctx, space8, a, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 2)
			})

			t.Run("delete document", func(t *testing.T) {
				w := ws()
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{
					{ID: "c1", WorkspaceID: w, DocumentID: "d1", Vector: unit(8, 0)},
					{ID: "c2", WorkspaceID: w, DocumentID: "d1", Vector: unit(8, 1)},
					{ID: "c3", WorkspaceID: w, DocumentID: "d2", Vector: unit(8, 2)},
				}))
				require.NoError(t, store.DeleteDocument(ctx, space8, w, "d1"))
				hits, err := store.Search(ctx, space8, w, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, []string{"c3"}, hitIDs(hits))
				require.NoError(t, store.DeleteDocument(ctx, space8, w, "never-existed"))
			})

			t.Run("delete workspace", func(t *testing.T) {
				w, other := ws(), ws()
				for _, x := range []string{w, other} {
					require.NoError(t, store.Upsert(ctx, space8, []vector.Record{
						{ID: "c1", WorkspaceID: x, DocumentID: "d1", Vector: unit(8, 0)},
						{ID: "c2", WorkspaceID: x, DocumentID: "d2", Vector: unit(8, 1)},
					}))
				}
				require.NoError(t, store.DeleteWorkspace(ctx, space8, w))
				hits, err := store.Search(ctx, space8, w, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
				hits, err = store.Search(ctx, space8, other, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 2)
				// The workspace can be written again.
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{{ID: "c9", WorkspaceID: w, DocumentID: "d9", Vector: unit(8, 5)}}))
				hits, err = store.Search(ctx, space8, w, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, []string{"c9"}, hitIDs(hits))
			})

			t.Run("upsert replaces a record", func(t *testing.T) {
				w := ws()
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: w, DocumentID: "old", Vector: unit(8, 0)}}))
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: w, DocumentID: "new", Vector: unit(8, 1)}}))
				hits, err := store.Search(ctx, space8, w, unit(8, 1), 10, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 1)
				require.Equal(t, "new", hits[0].DocumentID)
				require.InDelta(t, 1.0, hits[0].Score, 1e-4)
				// In one batch, the last record with an ID wins.
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{
					{ID: "c2", WorkspaceID: w, DocumentID: "first", Vector: unit(8, 2)},
					{ID: "c2", WorkspaceID: w, DocumentID: "last", Vector: unit(8, 3)},
				}))
				hits, err = store.Search(ctx, space8, w, unit(8, 3), 1, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, "c2", hits[0].ID)
				require.Equal(t, "last", hits[0].DocumentID)
				hits, err = store.Search(ctx, space8, w, unit(8, 3), 10, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 2)
			})

			t.Run("dimension mismatch", func(t *testing.T) {
				w := ws()
				err := store.Upsert(ctx, space8, []vector.Record{
					{ID: "ok", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 0)},
					{ID: "bad", WorkspaceID: w, DocumentID: "d", Vector: unit(4, 0)},
				})
				require.ErrorIs(t, err, vector.ErrDimensionMismatch)
				require.ErrorIs(t, err, vector.ErrInvalid)
				var de *vector.DimensionError
				require.ErrorAs(t, err, &de)
				require.Equal(t, 4, de.Got)
				require.Contains(t, err.Error(), "expects 8")
				// Nothing of the rejected batch was written.
				hits, err := store.Search(ctx, space8, w, unit(8, 0), 10, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
				_, err = store.Search(ctx, space8, w, unit(16, 0), 10, vector.Filter{})
				require.ErrorIs(t, err, vector.ErrDimensionMismatch)
			})

			t.Run("k larger than the set", func(t *testing.T) {
				w := ws()
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{
					{ID: "c1", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 0)},
					{ID: "c2", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 1)},
					{ID: "c3", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 2)},
				}))
				hits, err := store.Search(ctx, space8, w, unit(8, 1), 100, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, 3)
				require.Equal(t, "c2", hits[0].ID)
			})

			t.Run("empty workspace and degenerate queries", func(t *testing.T) {
				hits, err := store.Search(ctx, space8, ws(), unit(8, 0), 5, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
				// A space never written to.
				hits, err = store.Search(ctx, vector.Space{Model: "unused-" + randHex(3), Dimension: 3}, ws(), unit(3, 0), 5, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
				require.NoError(t, store.DeleteWorkspace(ctx, vector.Space{Model: "unused-" + randHex(3), Dimension: 3}, ws()))
				w := ws()
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 0)}}))
				hits, err = store.Search(ctx, space8, w, unit(8, 0), 0, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
				hits, err = store.Search(ctx, space8, w, make([]float32, 8), 5, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits, "a zero query has no direction")
			})

			t.Run("filter by documents", func(t *testing.T) {
				w := ws()
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{
					{ID: "c1", WorkspaceID: w, DocumentID: "d1", Vector: unit(8, 0)},
					{ID: "c2", WorkspaceID: w, DocumentID: "d2", Vector: angled(0.9, 1)},
					{ID: "c3", WorkspaceID: w, DocumentID: `d"3`, Vector: angled(0.5, 1)},
				}))
				hits, err := store.Search(ctx, space8, w, unit(8, 0), 10, vector.Filter{DocumentIDs: []string{"d2", `d"3`}})
				require.NoError(t, err)
				require.Equal(t, []string{"c2", "c3"}, hitIDs(hits))
			})

			t.Run("invalid input", func(t *testing.T) {
				w := ws()
				cases := map[string][]vector.Record{
					"empty id":         {{WorkspaceID: w, DocumentID: "d", Vector: unit(8, 0)}},
					"empty workspace":  {{ID: "c", DocumentID: "d", Vector: unit(8, 0)}},
					"empty document":   {{ID: "c", WorkspaceID: w, Vector: unit(8, 0)}},
					"zero vector":      {{ID: "c", WorkspaceID: w, DocumentID: "d", Vector: make([]float32, 8)}},
					"NaN":              {{ID: "c", WorkspaceID: w, DocumentID: "d", Vector: append(unit(7, 0), float32(math.NaN()))}},
					"control in id":    {{ID: "c\n", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 0)}},
					"overlong doc id":  {{ID: "c", WorkspaceID: w, DocumentID: string(make([]byte, vector.MaxIDLength+1)), Vector: unit(8, 0)}},
					"no record vector": {{ID: "c", WorkspaceID: w, DocumentID: "d"}},
				}
				for name, recs := range cases {
					require.ErrorIs(t, store.Upsert(ctx, space8, recs), vector.ErrInvalid, name)
				}
				_, err := store.Search(ctx, space8, "", unit(8, 0), 5, vector.Filter{})
				require.ErrorIs(t, err, vector.ErrInvalid)
				_, err = store.Search(ctx, space8, w, unit(8, 0), -1, vector.Filter{})
				require.ErrorIs(t, err, vector.ErrInvalid)
				require.ErrorIs(t, store.Upsert(ctx, vector.Space{Model: "m", Dimension: 0}, nil), vector.ErrInvalid)
				require.ErrorIs(t, store.DeleteWorkspace(ctx, space8, ""), vector.ErrInvalid)
				require.ErrorIs(t, store.DeleteDocument(ctx, space8, w, ""), vector.ErrInvalid)
				require.NoError(t, store.Upsert(ctx, space8, nil), "an empty batch is a no-op")
			})

			t.Run("spaces are separate", func(t *testing.T) {
				w := ws()
				other := vector.Space{Model: "other-model", Dimension: 8}
				require.NoError(t, store.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: w, DocumentID: "d", Vector: unit(8, 0)}}))
				hits, err := store.Search(ctx, other, w, unit(8, 0), 5, vector.Filter{})
				require.NoError(t, err)
				require.Empty(t, hits)
			})
		})
	}
}

// TestRecall compares every store with brute force on random vectors. The
// embedded store is exact; Milvus may approximate and must keep recall@5 at
// 0.9 or better.
func TestRecall(t *testing.T) {
	t.Parallel()
	const (
		dim     = 32
		n       = 300
		queries = 25
		k       = 5
	)
	rng := rand.New(rand.NewPCG(7, 11))
	randVec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	space := vector.Space{Model: "recall", Dimension: dim}
	recs := make([]vector.Record, n)
	for i := range recs {
		recs[i] = vector.Record{ID: "c" + itoa(i), WorkspaceID: "ws-recall", DocumentID: "d" + itoa(i%17), Vector: randVec()}
	}
	// Decoys in another workspace, nearer to the queries than anything in
	// ws-recall; a leak across workspaces would show up as lost recall.
	qs := make([][]float32, queries)
	var decoys []vector.Record
	for i := range qs {
		qs[i] = randVec()
		decoys = append(decoys, vector.Record{ID: "c" + itoa(i), WorkspaceID: "ws-decoy", DocumentID: "decoy", Vector: qs[i]})
	}
	want := make([][]string, queries)
	for qi, q := range qs {
		type scored struct {
			id    string
			score float64
		}
		all := make([]scored, n)
		for i, r := range recs {
			all[i] = scored{r.ID, cosine(q, r.Vector)}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
		for _, s := range all[:k] {
			want[qi] = append(want[qi], s.id)
		}
	}

	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store := b.open(t)
			ctx := context.Background()
			require.NoError(t, store.Upsert(ctx, space, append(slices.Clone(recs), decoys...)))
			found := 0
			for qi, q := range qs {
				hits, err := store.Search(ctx, space, "ws-recall", q, k, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, k)
				for _, h := range hits {
					require.NotEqual(t, "decoy", h.DocumentID)
					if slices.Contains(want[qi], h.ID) {
						found++
					}
				}
				if _, ok := store.(*vector.Embedded); ok {
					require.Equal(t, want[qi], hitIDs(hits), "embedded search must be exact, in order")
				}
			}
			recall := float64(found) / float64(queries*k)
			t.Logf("%s recall@%d over %d vectors: %.3f", b.name, k, n, recall)
			if _, ok := store.(*vector.Embedded); ok {
				require.Equal(t, 1.0, recall)
			} else {
				require.GreaterOrEqual(t, recall, 0.9)
			}
		})
	}
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

func itoa(i int) string {
	return string(rune('a'+i%26)) + string(rune('a'+(i/26)%26)) + string(rune('a'+(i/676)%26))
}
