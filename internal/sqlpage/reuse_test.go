package sqlpage

import (
	"context"
	"database/sql"
	"testing"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// The destinations are made once when Assign copies every value out, and
// per row when one of them is kept (a column ent does not know).
func TestReuseScanValues(t *testing.T) {
	made := 0
	spec := &sqlgraph.QuerySpec{ScanValues: func(columns []string) ([]any, error) {
		made++
		return []any{new(pulid.ID), new(sql.NullString), &entsql.NullScanner{S: new(pulid.ID)}, new(sql.NullTime), new([]byte)}, nil
	}}
	ReuseScanValues(spec)
	first, err := spec.ScanValues([]string{"a", "b", "c", "d", "e"})
	require.NoError(t, err)
	second, err := spec.ScanValues([]string{"a", "b", "c", "d", "e"})
	require.NoError(t, err)
	require.Equal(t, 1, made)
	require.Same(t, first[0], second[0])

	made = 0
	unknown := &sqlgraph.QuerySpec{ScanValues: func(columns []string) ([]any, error) {
		made++
		return []any{new(pulid.ID), new(entsql.UnknownType)}, nil
	}}
	ReuseScanValues(unknown)
	for range 3 {
		_, err := unknown.ScanValues([]string{"a", "b"})
		require.NoError(t, err)
	}
	require.Equal(t, 3, made)
}

func TestNodeScan(t *testing.T) {
	ctx := context.Background()
	require.False(t, IsNodeScan(ctx))
	ctx = WithNodeScan(ctx)
	require.True(t, IsNodeScan(ctx))
	require.Equal(t, ctx, WithNodeScan(ctx))
}
