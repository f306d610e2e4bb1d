// Package sqlpage holds the SQL the generated ent code uses to read a page
// of a one-to-many edge for many parents at once (the inbox's last message
// of each conversation): at most limit rows per parent, read through the
// index on (parent, order), so the cost follows the page size and not the
// length of each parent's history.
package sqlpage

import (
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
