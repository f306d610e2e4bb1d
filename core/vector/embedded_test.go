package vector_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/vector"
)

type dbBackend struct {
	name    string
	dialect string
	open    func(t *testing.T) *sql.DB
}

func dbBackends() []dbBackend {
	return []dbBackend{
		{"sqlite", vector.DialectSQLite, func(t *testing.T) *sql.DB { return openSQLite(t) }},
		{"postgres", vector.DialectPostgres, func(t *testing.T) *sql.DB { return postgres(t) }},
	}
}

func TestNewEmbeddedRejectsUnknownDialect(t *testing.T) {
	t.Parallel()
	_, err := vector.NewEmbedded(openSQLite(t), "mysql")
	require.ErrorContains(t, err, `unknown dialect "mysql"`)
	_, err = vector.NewEmbedded(nil, vector.DialectSQLite)
	require.Error(t, err)
}

// TestEmbeddedSharedDatabase plays two processes on one database: each sees
// the other's writes on its next search, through the version row.
func TestEmbeddedSharedDatabase(t *testing.T) {
	t.Parallel()
	for _, b := range dbBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			p1 := newEmbedded(t, db, b.dialect)
			p2 := newEmbedded(t, db, b.dialect)
			require.NoError(t, p1.Migrate(ctx), "migrate is idempotent")
			w := "ws_" + randHex(6)

			require.NoError(t, p1.Upsert(ctx, space8, []vector.Record{{ID: "c1", WorkspaceID: w, DocumentID: "d1", Vector: unit(8, 0)}}))
			// Both caches are now filled.
			for _, p := range []*vector.Embedded{p1, p2} {
				hits, err := p.Search(ctx, space8, w, unit(8, 0), 5, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, []string{"c1"}, hitIDs(hits))
			}
			require.NoError(t, p2.Upsert(ctx, space8, []vector.Record{{ID: "c2", WorkspaceID: w, DocumentID: "d2", Vector: unit(8, 1)}}))
			hits, err := p1.Search(ctx, space8, w, unit(8, 1), 5, vector.Filter{})
			require.NoError(t, err)
			require.Equal(t, []string{"c2", "c1"}, hitIDs(hits), "p1 sees p2's insert")

			// p1 writes on top of a cache that missed nothing; p2's cache is
			// one version behind and must reload rather than patch.
			require.NoError(t, p1.DeleteDocument(ctx, space8, w, "d1"))
			hits, err = p2.Search(ctx, space8, w, unit(8, 0), 5, vector.Filter{})
			require.NoError(t, err)
			require.Equal(t, []string{"c2"}, hitIDs(hits), "p2 sees p1's delete")

			require.NoError(t, p2.Upsert(ctx, space8, []vector.Record{{ID: "c2", WorkspaceID: w, DocumentID: "d2", Vector: unit(8, 4)}}))
			require.NoError(t, p1.Upsert(ctx, space8, []vector.Record{{ID: "c3", WorkspaceID: w, DocumentID: "d3", Vector: unit(8, 5)}}))
			for _, p := range []*vector.Embedded{p1, p2} {
				hits, err := p.Search(ctx, space8, w, unit(8, 4), 5, vector.Filter{})
				require.NoError(t, err)
				require.Equal(t, []string{"c2", "c3"}, hitIDs(hits))
				require.InDelta(t, 1.0, hits[0].Score, 1e-5, "p1 applied p2's replacement")
			}

			require.NoError(t, p2.DeleteWorkspace(ctx, space8, w))
			hits, err = p1.Search(ctx, space8, w, unit(8, 4), 5, vector.Filter{})
			require.NoError(t, err)
			require.Empty(t, hits)

			// A new store on the same database (a restart) finds the data.
			require.NoError(t, p1.Upsert(ctx, space8, []vector.Record{{ID: "c4", WorkspaceID: w, DocumentID: "d4", Vector: unit(8, 6)}}))
			p3 := newEmbedded(t, db, b.dialect)
			hits, err = p3.Search(ctx, space8, w, unit(8, 6), 5, vector.Filter{})
			require.NoError(t, err)
			require.Equal(t, []string{"c4"}, hitIDs(hits))
		})
	}
}

// TestEmbeddedCacheEviction keeps searches correct when the cache can hold
// almost nothing and workspaces keep being dropped and reloaded.
func TestEmbeddedCacheEviction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newEmbedded(t, openSQLite(t), vector.DialectSQLite, vector.WithCacheBytes(1))
	for round := range 2 {
		for i := range 4 {
			w := fmt.Sprintf("ws%d", i)
			if round == 0 {
				require.NoError(t, s.Upsert(ctx, space8, []vector.Record{{ID: "c" + w, WorkspaceID: w, DocumentID: "d", Vector: unit(8, i)}}))
			}
			hits, err := s.Search(ctx, space8, w, unit(8, i), 5, vector.Filter{})
			require.NoError(t, err)
			require.Equal(t, []string{"c" + w}, hitIDs(hits))
		}
	}
}

// TestEmbeddedConcurrentWriters runs writers and readers of one workspace at
// once through two stores; at the end both agree with the database.
func TestEmbeddedConcurrentWriters(t *testing.T) {
	t.Parallel()
	for _, b := range dbBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			stores := []*vector.Embedded{newEmbedded(t, db, b.dialect), newEmbedded(t, db, b.dialect)}
			w := "ws_" + randHex(6)
			const writers, perWriter = 4, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers*perWriter*2)
			for g := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := stores[g%2]
					for i := range perWriter {
						id := fmt.Sprintf("g%d-%d", g, i)
						if err := s.Upsert(ctx, space8, []vector.Record{{ID: id, WorkspaceID: w, DocumentID: fmt.Sprintf("d%d", g), Vector: unit(8, g)}}); err != nil {
							errs <- err
						}
						if _, err := s.Search(ctx, space8, w, unit(8, g), 3, vector.Filter{}); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for _, s := range stores {
				hits, err := s.Search(ctx, space8, w, unit(8, 0), 1000, vector.Filter{})
				require.NoError(t, err)
				require.Len(t, hits, writers*perWriter)
			}
		})
	}
}
