package sqlpage

import (
	"database/sql"
	"testing"

	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/stretchr/testify/require"
)

// TestScanJoined scans two rows the way sqlgraph does (ScanValues, the
// driver's Scan into each destination, Assign): the parent's Assign sees
// only its own columns, the joined ones land in the target's destinations,
// and a row whose joined ID is NULL has no target.
func TestScanJoined(t *testing.T) {
	var assigned [][]string
	var names []string
	spec := &sqlgraph.QuerySpec{
		ScanValues: func(columns []string) ([]any, error) {
			v := make([]any, len(columns))
			for i := range columns {
				v[i] = new(sql.NullString)
			}
			return v, nil
		},
		Assign: func(columns []string, values []any) error {
			assigned = append(assigned, columns)
			names = append(names, values[1].(*sql.NullString).String)
			return nil
		},
	}
	join := &Join{Alias: "__c", Columns: []string{"id", "name"}, Values: func() ([]any, error) {
		return []any{new(sql.NullString), new(sql.NullString)}, nil
	}}
	ScanJoined(spec, []*Join{join})
	columns := []string{"id", JoinedColumn("__c", "id"), "name", JoinedColumn("__c", "name")}
	for _, row := range [][]any{{"p1", "c1", "first", "Ada"}, {"p2", nil, "second", nil}} {
		values, err := spec.ScanValues(columns)
		require.NoError(t, err)
		for i, v := range values {
			require.NoError(t, v.(sql.Scanner).Scan(row[i]))
		}
		require.NoError(t, spec.Assign(columns, values))
	}
	require.Equal(t, [][]string{{"id", "name"}, {"id", "name"}}, assigned)
	require.Equal(t, []string{"first", "second"}, names)
	r, err := join.Row(0)
	require.NoError(t, err)
	require.True(t, r.Found)
	require.Equal(t, "c1", r.Values[0].(*sql.NullString).String)
	require.Equal(t, "Ada", r.Values[1].(*sql.NullString).String)
	r, err = join.Row(1)
	require.NoError(t, err)
	require.False(t, r.Found)
	_, err = join.Row(2)
	require.Error(t, err)
}
