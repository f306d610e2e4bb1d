package sqlpage

import (
	"fmt"

	"entgo.io/ent/dialect/sql/sqlgraph"
)

// Join is a unique edge read by LeftJoin in its parent's statement,
// scanned by ScanJoined straight into the target's own scan destinations,
// row by row: ent would otherwise scan each joined column as a column it
// does not know (asking the driver for the row's column types, per
// column and row) into the parent's SelectValues map.
type Join struct {
	Alias   string
	Columns []string              // the target's columns, its ID first, as LeftJoin selects them
	Values  func() ([]any, error) // the target's scan destinations for Columns (its scanValues)
	rows    []JoinedRow
}

// JoinedRow is one parent row's joined columns: Values are the target's
// scan destinations, Found is false when the row had no target (the LEFT
// JOIN matched nothing: missing, or filtered out by the ON clause).
type JoinedRow struct {
	Values []any
	Found  bool
}

// Row returns the joined columns of the i-th row the parent's query
// scanned (its i-th node).
func (j *Join) Row(i int) (JoinedRow, error) {
	if i >= len(j.rows) {
		return JoinedRow{}, fmt.Errorf("sqlpage: %s: %d rows scanned, node %d", j.Alias, len(j.rows), i)
	}
	return j.rows[i], nil
}

// joinedValue is the destination of one joined column: NULL (a row without
// target) leaves the target's destination at its zero value, whatever its
// type, as the eager-loading query would not have scanned it at all.
type joinedValue struct {
	dst   any
	valid bool
}

// Wrapper is a scan destination that stands for another one and records
// whether the column was NULL: a reader that decodes columns itself
// (core/store's rows on pgx) scans a non-NULL column into Unwrap(true)'s
// destination and nothing for NULL (Unwrap(false)), as Scan would.
type Wrapper interface {
	Unwrap(notNull bool) any
}

// Unwrap implements Wrapper.
func (v *joinedValue) Unwrap(notNull bool) any {
	if notNull {
		v.valid = true
	}
	return v.dst
}

func (v *joinedValue) Scan(src any) error {
	if src == nil {
		return nil
	}
	v.valid = true
	return Scan(v.dst, src)
}

// ScanJoined makes a parent query's spec scan the joined columns of joins
// (in the order their LeftJoin modifiers were added) into each join's
// rows, and pass only the parent's own columns to ent's Assign, so the
// joined columns never reach the parent's SelectValues. The parent's
// query reads the rows back with Join.Row after the statement, one per node
// in order.
func ScanJoined(spec *sqlgraph.QuerySpec, joins []*Join) {
	scan, assign := spec.ScanValues, spec.Assign
	for _, j := range joins {
		j.rows = j.rows[:0]
	}
	var (
		own     ownColumns      // the parent's columns
		joinIdx [][]int         // each join's columns' positions in the row
		ownVals []any           // the parent's destinations of the row being scanned
		wrapped [][]joinedValue // each join's wrappers in the row's destinations, made once
	)
	layout := func(columns []string) error {
		if own.names != nil { // the same columns for every row
			return nil
		}
		pos := make(map[string]int, len(columns))
		for i, c := range columns {
			pos[c] = i
		}
		joined := make([]bool, len(columns))
		joinIdx = make([][]int, len(joins))
		for n, j := range joins {
			joinIdx[n] = make([]int, len(j.Columns))
			for k, c := range j.Columns {
				i, ok := pos[JoinedColumn(j.Alias, c)]
				if !ok {
					return fmt.Errorf("sqlpage: %s: column %s not selected", j.Alias, c)
				}
				joinIdx[n][k], joined[i] = i, true
			}
		}
		own.names, own.idx = make([]string, 0, len(columns)), make([]int, 0, len(columns))
		for i, c := range columns {
			if !joined[i] {
				own.add(c, i)
			}
		}
		return nil
	}
	spec.ScanValues = func(columns []string) ([]any, error) {
		if err := layout(columns); err != nil {
			return nil, err
		}
		ov, err := own.scan(scan, len(columns))
		if err != nil {
			return nil, err
		}
		if wrapped == nil {
			wrapped = make([][]joinedValue, len(joins))
		}
		values := own.values
		for n, j := range joins {
			// The target's destinations are new for each row (the edge is
			// assigned from them after the statement); their wrappers are not.
			jv, err := j.Values()
			if err != nil {
				return nil, err
			}
			if len(wrapped[n]) != len(jv) {
				wrapped[n] = make([]joinedValue, len(jv))
			}
			w := wrapped[n]
			for k, i := range joinIdx[n] {
				w[k] = joinedValue{dst: jv[k]}
				values[i] = &w[k]
			}
			// Found (the ID, first, was not NULL) is read back in Assign,
			// once the row is scanned.
			j.rows = append(j.rows, JoinedRow{Values: jv})
		}
		ownVals = ov
		return values, nil
	}
	spec.Assign = func(columns []string, values []any) error {
		for n, j := range joins {
			r := &j.rows[len(j.rows)-1]
			r.Found = values[joinIdx[n][0]].(*joinedValue).valid
		}
		return assign(own.names, ownVals)
	}
}

// ownColumns are a parent query's own columns in a row that holds other
// columns too (ScanJoined's joins, ScanPaged's page): their names, their
// positions in the row, and the row's destinations, made once.
type ownColumns struct {
	names  []string
	idx    []int
	values []any // read by Scan and Assign only
}

func (o *ownColumns) add(name string, i int) {
	o.names, o.idx = append(o.names, name), append(o.idx, i)
}

// scan makes the parent's destinations for a row of width columns with
// the parent spec's own ScanValues, places them in the row's destinations
// (o.values), and returns them.
func (o *ownColumns) scan(scanOwn func([]string) ([]any, error), width int) ([]any, error) {
	ov, err := scanOwn(o.names)
	if err != nil {
		return nil, err
	}
	if o.values == nil {
		o.values = make([]any, width)
	}
	for k, i := range o.idx {
		o.values[i] = ov[k]
	}
	return ov, nil
}
