// Package sqlpage holds the SQL the generated ent code uses to read a page
// of a one-to-many edge for many parents at once (the inbox's last message
// of each conversation): at most limit rows per parent, read through the
// index on (parent, order), so the cost follows the page size and not the
// length of each parent's history.
package sqlpage

import (
	"fmt"

	"database/sql/driver"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// parentAlias names the list of parent IDs in the statements below.
const parentAlias = "__parent"

// LimitPerParent returns a selector modifier that keeps, for each parent
// ID in ids, the first limit rows of the selection in the order orderBy,
// partitioned by the foreign-key column partitionBy. The selector keeps
// every predicate it had (the edge's filter, cursors and the privacy
// policy's tenant filter), applied inside each parent's subquery.
//
// PostgreSQL gets
//
//	SELECT t.cols FROM (VALUES ($1), ...) AS __parent(id)
//	CROSS JOIN LATERAL (SELECT cols FROM t WHERE <predicates> AND t.fk = __parent.id
//	                    ORDER BY <order> LIMIT n) AS t
//	ORDER BY <order>
//
// and SQLite, which has no LATERAL, the same with a correlated subquery:
//
//	SELECT t.cols FROM (VALUES (?), ...) AS __parent JOIN t ON t.id IN
//	  (SELECT t.id FROM t WHERE <predicates> AND t.fk = __parent.column1 ORDER BY <order> LIMIT n)
//	ORDER BY <order>
//
// Other dialects number every row (entgql.LimitPerRow).
func LimitPerParent(partitionBy string, ids []driver.Value, limit int, orderBy sql.Querier) func(*sql.Selector) {
	return func(s *sql.Selector) {
		d := s.Dialect()
		if d != dialect.Postgres && d != dialect.SQLite {
			entgql.LimitPerRow(partitionBy, limit, orderBy)(s)
			return
		}
		s.SetDistinct(false)
		b := sql.Dialect(d)
		table := s.TableName()
		cols := s.UnqualifiedColumns()
		if len(ids) == 0 {
			// No parent: nothing to read (an empty VALUES list is not SQL).
			s.Where(sql.False())
			return
		}
		inner := s.Clone()
		outer := b.Select().WithContext(s.Context())
		qualified := make([]string, len(cols))
		for i, c := range cols {
			qualified[i] = b.Table(table).C(c)
		}
		values := func(bb *sql.Builder) {
			bb.WriteString("(VALUES ")
			for i, id := range ids {
				if i > 0 {
					bb.Comma()
				}
				bb.WriteByte('(').Arg(id).WriteByte(')')
			}
			bb.WriteByte(')')
		}
		if d == dialect.Postgres {
			inner.Where(sql.ColumnsEQ(inner.C(partitionBy), b.Table(parentAlias).C("id"))).
				OrderExpr(orderBy).Limit(limit)
			outer.Select(qualified...).FromExpr(sql.ExprFunc(func(bb *sql.Builder) {
				values(bb)
				bb.WriteString(" AS ").Ident(parentAlias).WriteString(`("id") CROSS JOIN LATERAL `)
				bb.Wrap(func(bb *sql.Builder) { bb.Join(inner) })
				bb.WriteString(" AS ").Ident(table)
			}))
		} else {
			inner.Select(inner.C("id")).
				Where(sql.ColumnsEQ(inner.C(partitionBy), b.Table(parentAlias).C("column1"))).
				OrderExpr(orderBy).Limit(limit)
			outer.Select(qualified...).FromExpr(sql.ExprFunc(func(bb *sql.Builder) {
				values(bb)
				bb.WriteString(" AS ").Ident(parentAlias).WriteString(" JOIN ").Ident(table).
					WriteString(" ON ").WriteString(b.Table(table).C("id")).WriteString(" IN ")
				bb.Wrap(func(bb *sql.Builder) { bb.Join(inner) })
			}))
		}
		outer.OrderExpr(orderBy)
		*s = *outer
	}
}

// RestrictsToParents reports whether LimitPerParent's statement in
// dialect d reads only rows of the parents it was given (PostgreSQL and
// SQLite: the parents' IDs are the statement's first table), so that the
// generated code need not add an IN (parent IDs) predicate of its own.
// Other dialects number every row of the table (entgql.LimitPerRow) and
// need it.
func RestrictsToParents(d string) bool { return d == dialect.Postgres || d == dialect.SQLite }

// JoinedColumn names a column of a unique edge read by a LEFT JOIN in its
// parent's statement (see LeftJoin): the alias, two underscores, the column.
func JoinedColumn(alias, column string) string { return alias + "__" + column }

// LeftJoin returns a selector modifier that reads a unique (many-to-one)
// edge in the parent's own statement instead of a second one: it LEFT
// JOINs table under alias on alias.idColumn = parent.fkColumn and the
// target's own predicates (the target query's privacy policy's tenant
// filter among them, built on a selector of the aliased table: see
// TargetSelector), and selects the target's columns as
// JoinedColumn(alias, column). A parent whose target row is missing or
// filtered out gets NULLs, which the generated code reads as "no edge",
// as the separate eager-loading query would have.
func LeftJoin(alias, table, idColumn, fkColumn string, target *sql.Selector, columns []string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Dialect(s.Dialect()).Table(table).As(alias)
		on := sql.ColumnsEQ(s.C(fkColumn), t.C(idColumn))
		if p := target.P(); p != nil {
			on = sql.And(on, p)
		}
		s.LeftJoin(t).OnP(on)
		for _, c := range columns {
			s.AppendSelectAs(t.C(c), JoinedColumn(alias, c))
		}
	}
}

// TargetSelector is the selector a joined edge's predicates are applied
// to: the target table under its alias, in the parent's dialect.
func TargetSelector(dialectName, table, alias string) *sql.Selector {
	return sql.Dialect(dialectName).Select().From(sql.Table(table).As(alias))
}

// Scan stores src, a column's value as the driver returned it, in dst,
// one of the scan destinations of ent's generated scanValues (a joined
// column, see ScanJoined). NULL leaves dst at its zero value (an invalid
// Null* type).
func Scan(dst, src any) error {
	if src == nil {
		return nil
	}
	switch d := dst.(type) {
	case interface{ Scan(any) error }:
		return d.Scan(src)
	case *sql.UnknownType:
		*d = src
	case *[]byte:
		switch s := src.(type) {
		case []byte:
			*d = append([]byte(nil), s...)
		case string:
			*d = []byte(s)
		default:
			return fmt.Errorf("sqlpage: cannot scan %T into %T", src, dst)
		}
	default:
		return fmt.Errorf("sqlpage: cannot scan %T into %T", src, dst)
	}
	return nil
}

// JoinsUnique reports whether unique edges are read by LeftJoin on the
// dialect: PostgreSQL only. SQLite runs in the process and pays no round
// trip for the second statement, and its driver reports no type for a
// NULL and a string for a time (which mattered when ent scanned the
// joined columns by the driver's types; ScanJoined, which scans them
// into the target's own destinations, is not tried there): on SQLite the
// edge is still eager-loaded.
func JoinsUnique(dialectName string) bool { return dialectName == dialect.Postgres }
