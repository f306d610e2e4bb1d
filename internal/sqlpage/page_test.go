package sqlpage

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/ent/schema/pulid"
)

// TestJoinPage writes the parent's statement as a subquery with the page
// LEFT JOINed LATERAL, the page's columns under their own names and the
// parent's renamed, ordered by the page's order.
func TestJoinPage(t *testing.T) {
	b := entsql.Dialect(dialect.Postgres)
	parent := b.Select(b.Table("conversations").C("id"), b.Table("conversations").C("status")).From(b.Table("conversations"))
	parent.Where(entsql.EQ(parent.C("id"), "cv1")).Limit(2)
	page := b.Select(b.Table("messages").C("id"), b.Table("messages").C("text")).From(b.Table("messages"))
	page.Where(entsql.EQ(page.C("workspace_id"), "ws1")).OrderBy(page.C("id")).Limit(3)
	p := &Page{Alias: "m", Columns: []string{"id", "text"}}
	JoinPage(p, "conversation_id", page, entsql.ExprFunc(func(b *entsql.Builder) { b.Ident("id").WriteString(" ASC") }))(parent)
	query, args := parent.Query()
	require.Equal(t, `SELECT "messages"."id", "messages"."text", "conversations"."id" AS "__parent__id", "conversations"."status" AS "__parent__status" `+
		`FROM (SELECT "conversations"."id", "conversations"."status" FROM "conversations" WHERE "conversations"."id" = $1 LIMIT 2) AS "conversations" `+
		`LEFT JOIN LATERAL (SELECT "messages"."id", "messages"."text" FROM "messages" WHERE "messages"."workspace_id" = $2 AND "messages"."conversation_id" = "conversations"."id" ORDER BY "messages"."id" LIMIT 3) AS "messages" ON true `+
		`ORDER BY "id" ASC`, query)
	require.Equal(t, []any{"cv1", "ws1"}, args)
	// Building it again (a query run twice) adds nothing to the page.
	again := b.Select(b.Table("conversations").C("id")).From(b.Table("conversations"))
	JoinPage(p, "conversation_id", page, entsql.ExprFunc(func(b *entsql.Builder) { b.Ident("id") }))(again)
	q2, _ := again.Query()
	require.Equal(t, 1, strings.Count(q2, `"conversation_id"`))
}

// TestScanPaged scans rows the way sqlgraph does: a parent is assigned
// once however many page rows it comes with, in the order parents first
// appear; each parent keeps the nodes of its own page rows in order; a row
// whose page ID is NULL (an empty page) makes no node. The page's
// destinations are made once when they copy their values out, for each
// row when they do not.
func TestScanPaged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dst   func() any
		text  func(any) string
		calls int
	}{
		{"copied out", func() any { return new(sql.NullString) }, func(v any) string {
			if ns := v.(*sql.NullString); ns.Valid {
				return ns.String
			}
			return "<nil>"
		}, 1},
		{"kept", func() any { return new(entsql.UnknownType) }, func(v any) string { return fmt.Sprint(*v.(*entsql.UnknownType)) }, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			spec := &sqlgraph.QuerySpec{
				ScanValues: func(columns []string) ([]any, error) {
					return []any{new(pulid.ID), new(sql.NullString)}, nil // id, status
				},
				Assign: func(columns []string, values []any) error {
					require.Equal(t, []string{"id", "status"}, columns)
					ids = append(ids, string(*values[0].(*pulid.ID)))
					return nil
				},
			}
			calls := 0
			page := &Page{Alias: "m", Columns: []string{"id", "text"},
				Values: func() ([]any, error) {
					calls++
					return []any{tc.dst(), tc.dst()}, nil
				},
				Assign: func(values []any) (any, error) { return tc.text(values[1]), nil },
			}
			ScanPaged(spec, page)
			columns := []string{"id", "text", ParentColumn("id"), ParentColumn("status")}
			for _, row := range [][]any{
				{"m1", "one", "p1", "OPEN"}, {"m2", "two", "p1", "OPEN"}, {nil, nil, "p2", "CLOSED"}, {"m3", "three", "p1", "OPEN"}, {"m4", nil, "p1", "OPEN"},
			} {
				values, err := spec.ScanValues(columns)
				require.NoError(t, err)
				for i, v := range values {
					if s, ok := v.(sql.Scanner); ok {
						require.NoError(t, s.Scan(row[i]))
					}
				}
				require.NoError(t, spec.Assign(columns, values))
			}
			require.Equal(t, []string{"p1", "p2"}, ids)
			rows, err := page.Rows(0)
			require.NoError(t, err)
			require.Equal(t, []any{"one", "two", "three", "<nil>"}, rows)
			rows, err = page.Rows(1)
			require.NoError(t, err)
			require.Empty(t, rows)
			_, err = page.Rows(2)
			require.Error(t, err)
			require.Equal(t, tc.calls, calls)
		})
	}
}
