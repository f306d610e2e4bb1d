package vector_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/neksio/neksio/core/vector"
)

func ExampleEmbedded() {
	dir, err := os.MkdirTemp("", "vector-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "neksio.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	store, err := vector.NewEmbedded(db, vector.DialectSQLite)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	space := vector.Space{Model: "toy", Dimension: 3}
	err = store.Upsert(ctx, space, []vector.Record{
		{ID: "chunk-1", WorkspaceID: "ws-acme", DocumentID: "faq", Vector: []float32{1, 0, 0}},
		{ID: "chunk-2", WorkspaceID: "ws-acme", DocumentID: "pricing", Vector: []float32{0.6, 0.8, 0}},
		{ID: "chunk-1", WorkspaceID: "ws-other", DocumentID: "faq", Vector: []float32{1, 0, 0}},
	})
	if err != nil {
		log.Fatal(err)
	}
	hits, err := store.Search(ctx, space, "ws-acme", []float32{2, 0, 0}, 5, vector.Filter{})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %s %.2f\n", h.ID, h.DocumentID, h.Score)
	}
	// Output:
	// chunk-1 faq 1.00
	// chunk-2 pricing 0.60
}
