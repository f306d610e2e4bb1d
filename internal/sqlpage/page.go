package sqlpage

import (
	"fmt"
	"reflect"
	"strings"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"
)

// JoinsPage reports whether a page of a one-to-many edge of a single node
// is read by JoinPage in the node's own statement: PostgreSQL only (a
// LATERAL join; SQLite has none, and pays no round trip for a second
// statement anyway).
func JoinsPage(dialectName string) bool { return dialectName == dialect.Postgres }

// JoinPage returns a selector modifier that reads a page of a one-to-many
// edge in the parent's own statement instead of a second one: the
// parent's statement, as it is (its predicates, the privacy policy's
// tenant filter, its LIMIT), becomes a subquery, and the page is LEFT
// JOINed LATERAL onto each of its rows:
//
//	SELECT page.cols, parent.cols AS __parent__col, ...
//	FROM (<parent statement>) AS parent
//	LEFT JOIN LATERAL (<page statement> AND page.fk = parent.id) AS page ON true
//	ORDER BY <page order>
//
// page is the edge's own statement (its predicates, the target's privacy
// filter, cursors, ORDER BY and LIMIT) and orderBy its order, as the
// pager writes it: bare column names. The page's columns keep their
// names in the answer and the parent's are renamed (ParentColumn), so
// that PostgreSQL reads orderBy's names as the page's output columns.
// A parent whose page is empty gets one row with NULLs there.
//
// A parent comes back once per row of its page: ScanPaged folds the rows
// of each parent into one node. It is meant for a query of one node (the
// rows of several parents would come in page order, not the parents').
func JoinPage(p *Page, fkColumn string, page *sql.Selector, orderBy sql.Querier) func(*sql.Selector) {
	return func(s *sql.Selector) {
		b := sql.Dialect(s.Dialect())
		parent, child := s.TableName(), page.TableName()
		page := page.Clone() // the query may be run again: its modifiers with it
		page.Where(sql.ColumnsEQ(page.C(fkColumn), b.Table(parent).C("id")))
		outer := b.Select().WithContext(s.Context())
		for _, c := range p.Columns {
			outer.AppendSelect(b.Table(child).C(c))
		}
		for _, c := range s.UnqualifiedColumns() {
			outer.AppendSelectAs(b.Table(parent).C(c), ParentColumn(c))
		}
		inner := s.Clone()
		outer.FromExpr(sql.ExprFunc(func(bb *sql.Builder) {
			bb.Wrap(func(bb *sql.Builder) { bb.Join(inner) })
			bb.WriteString(" AS ").Ident(parent).WriteString(" LEFT JOIN LATERAL ")
			bb.Wrap(func(bb *sql.Builder) { bb.Join(page) })
			bb.WriteString(" AS ").Ident(child).WriteString(" ON true")
		}))
		outer.OrderExpr(orderBy)
		*s = *outer
	}
}

// ParentColumn names a parent's column in JoinPage's statement.
func ParentColumn(column string) string { return JoinedColumn(parentAlias, column) }

// Page is a page of a one-to-many edge read by JoinPage, scanned by
// ScanPaged straight into the target's own scan destinations and made
// into the target's nodes row by row.
type Page struct {
	Alias   string                // the edge's alias in the request, for errors
	Columns []string              // the target's columns, its ID first, as JoinPage selects them
	Values  func() ([]any, error) // the target's scan destinations for Columns (its scanValues)
	// Assign makes a target node of a row's destinations (its
	// assignValues). The destinations are those of the next row after it
	// returns, when they copy their values out (see ReuseScanValues).
	Assign func(values []any) (any, error)
	rows   [][]any // per parent node, in node order: its page's nodes
}

// Rows returns the page's nodes of the i-th node the parent's query
// returned, in the page's order.
func (p *Page) Rows(i int) ([]any, error) {
	if i >= len(p.rows) {
		return nil, fmt.Errorf("sqlpage: %s: %d nodes scanned, node %d", p.Alias, len(p.rows), i)
	}
	return p.rows[i], nil
}

// ScanPaged makes a parent query's spec fold the rows of JoinPage's
// statement into one node per parent: the parent's own columns are passed
// to ent's Assign the first time a parent's ID is seen, and the page's
// columns, when the row has a page row (its ID is not NULL), are made
// into a node of the page (Page.Assign) kept for that parent (Page.Rows).
// A parent is keyed by its ID, which must be string-kinded: the template
// generates joinPage only for such types (helper/neksio/joins-page), and
// another ID is an error here, not a wrong fold.
func ScanPaged(spec *sqlgraph.QuerySpec, p *Page) {
	scan, assign := spec.ScanValues, spec.Assign
	p.rows = p.rows[:0]
	var (
		own     ownColumns // the parent's columns
		pageIdx []int      // the page's columns' positions in the row
		idIdx   = -1       // the parent's ID among its own columns
		ownVals []any
		page    []any // the page row's destinations
		reuse   bool  // page is made once, for every row
		wrapped []joinedValue
		seen    = map[string]int{}
	)
	layout := func(columns []string) error {
		if own.names != nil { // the same columns for every row
			return nil
		}
		pos := make(map[string]int, len(columns))
		for i, c := range columns {
			pos[c] = i
		}
		pageIdx = make([]int, len(p.Columns))
		for k, c := range p.Columns {
			i, ok := pos[c]
			if !ok {
				return fmt.Errorf("sqlpage: %s: column %s not selected", p.Alias, c)
			}
			pageIdx[k] = i
		}
		prefix := ParentColumn("")
		own.names, own.idx = make([]string, 0, len(columns)), make([]int, 0, len(columns))
		for i, c := range columns {
			if name, ok := strings.CutPrefix(c, prefix); ok {
				if name == "id" {
					idIdx = len(own.names)
				}
				own.add(name, i)
			}
		}
		if idIdx < 0 {
			return fmt.Errorf("sqlpage: %s: the parent's id is not selected", p.Alias)
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
			wrapped = make([]joinedValue, len(p.Columns))
		}
		values := own.values
		// The page row's destinations are made once when every one of
		// them copies its value out into the node Assign makes of them
		// (as ReuseScanValues decides for a query's own rows), else anew
		// for each row.
		if page == nil || !reuse {
			pv, err := p.Values()
			if err != nil {
				return nil, err
			}
			if page == nil {
				reuse = allCopyOut(pv)
			}
			page = pv
		}
		for k, i := range pageIdx {
			wrapped[k] = joinedValue{dst: page[k]}
			values[i] = &wrapped[k]
		}
		ownVals = ov
		return values, nil
	}
	spec.Assign = func(columns []string, values []any) error {
		id := reflect.ValueOf(ownVals[idIdx])
		if id.Kind() != reflect.Pointer || id.Elem().Kind() != reflect.String {
			return fmt.Errorf("sqlpage: %s: cannot key the parent by its id, a %T", p.Alias, ownVals[idIdx])
		}
		key := id.Elem().String() // a pulid.ID: no allocation, as an interface key would be
		n, ok := seen[key]
		if !ok {
			n = len(p.rows)
			seen[key] = n
			p.rows = append(p.rows, nil)
			if err := assign(own.names, ownVals); err != nil {
				return err
			}
		}
		if !wrapped[0].valid { // the page's ID: the row has no page row
			return nil
		}
		if reuse {
			// A NULL column left its destination as the last row had it
			// (the wrapper writes nothing for NULL): make it NULL.
			for k := range wrapped {
				if !wrapped[k].valid {
					if err := setNull(page[k]); err != nil {
						return fmt.Errorf("sqlpage: %s: %s: %w", p.Alias, p.Columns[k], err)
					}
				}
			}
		}
		node, err := p.Assign(page)
		if err != nil {
			return err
		}
		p.rows[n] = append(p.rows[n], node)
		return nil
	}
}

// setNull sets a destination copiesOut accepts to NULL, as scanning a
// NULL into it would.
func setNull(dst any) error {
	if b, ok := dst.(*[]byte); ok {
		*b = nil
		return nil
	}
	if sc, ok := dst.(interface{ Scan(any) error }); ok {
		return sc.Scan(nil)
	}
	return fmt.Errorf("cannot set a %T to NULL", dst)
}
