package sqlpage

import (
	"context"
	"database/sql"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// ReuseScanValues makes a query's spec scan every row into the same
// destinations, made once for the first row, instead of the new ones
// ent's generated scanValues makes for each row (one per column, and the
// slice): the destinations are read only by the spec's Assign, which
// copies each value into the row's node before the next row is scanned,
// and database/sql writes every destination of every row (NULL included),
// so nothing of a row outlives it.
//
// Only destinations whose Assign keeps no reference into them are reused
// (copiesOut); a row with any other (a column ent does not know, scanned
// into a value kept in the node's SelectValues) makes the spec keep
// ent's own ScanValues. ScanJoined, which keeps each row's joined
// destinations, wraps the spec after this and makes its own.
func ReuseScanValues(spec *sqlgraph.QuerySpec) {
	scan := spec.ScanValues
	if scan == nil {
		return
	}
	var (
		values  []any
		decided bool
		reuse   bool
	)
	spec.ScanValues = func(columns []string) ([]any, error) {
		if decided && reuse && len(values) == len(columns) {
			return values, nil
		}
		v, err := scan(columns)
		if err != nil || decided {
			return v, err
		}
		decided, reuse = true, allCopyOut(v)
		if reuse {
			values = v
		}
		return v, nil
	}
}

// allCopyOut reports whether every destination of a row copiesOut, so
// the row's destinations can be made once and reused for every row.
func allCopyOut(dsts []any) bool {
	for _, d := range dsts {
		if !copiesOut(d) {
			return false
		}
	}
	return true
}

// copiesOut reports whether dst is a destination of ent's generated
// scanValues whose value its assignValues copies out (a string, a time, a
// number, a pulid.ID; a []byte is a new slice for each row, the
// destination only points to it).
func copiesOut(dst any) bool {
	switch d := dst.(type) {
	case *sql.NullString, *sql.NullTime, *sql.NullInt64, *sql.NullFloat64, *sql.NullBool,
		*sql.NullInt32, *sql.NullInt16, *sql.NullByte, *[]byte, *pulid.ID:
		return true
	case *entsql.NullScanner:
		_, ok := d.S.(*pulid.ID)
		return ok
	}
	return false
}

type nodeScanKey struct{}

// WithNodeScan marks ctx as the context of a query loading ent's nodes
// (the generated sqlAll, whose rows are scanned into the destinations of
// its scanValues): the store's driver may then read the rows without
// database/sql (core/store, nodeReader). The mark is a hint on the kind
// of destinations, nothing else: the statement is the same.
func WithNodeScan(ctx context.Context) context.Context {
	if IsNodeScan(ctx) {
		return ctx
	}
	return context.WithValue(ctx, nodeScanKey{}, true)
}

// IsNodeScan reports whether ctx was marked by WithNodeScan.
func IsNodeScan(ctx context.Context) bool {
	v, _ := ctx.Value(nodeScanKey{}).(bool)
	return v
}
