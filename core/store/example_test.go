package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/label"
)

// A write and everything that must follow it commit together: ent's
// writes, River jobs inserted with tx.InsertJob and change events emitted
// with tx.Emit share one transaction. When fn fails, none of it happened.
func ExampleStore_InTx() {
	dir, _ := os.MkdirTemp("", "neksio-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := store.OpenSQLite(filepath.Join(dir, "neksio.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		panic(err)
	}
	ws, err := workspace.Create(ctx, s, "Acme Coffee")
	if err != nil {
		panic(err)
	}

	// Every tenant-scoped query needs a viewer: here a system viewer bound
	// to the workspace, as a job runs.
	ctx = tenant.NewContext(ctx, tenant.System(string(ws.ID), "example"))
	err = s.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Ent.Label.Create().SetName("VIP").SetNameKey("vip").Save(ctx)
		if err != nil {
			return err
		}
		return fmt.Errorf("the customer's message failed to parse")
	})
	fmt.Println("failed:", err)

	n, _ := s.Ent.Label.Query().Where(label.Name("VIP")).Count(ctx)
	fmt.Println("labels after the rollback:", n)
	// Output:
	// failed: the customer's message failed to parse
	// labels after the rollback: 0
}
