package sqlpage_test

import (
	stdsql "database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/neksio/neksio/internal/sqlpage"
)

// page builds what the generated code asks for: the messages of some
// conversations, filtered by workspace, at most limit each, newest first.
func page(d string, ids []driver.Value, limit int) *sql.Selector {
	b := sql.Dialect(d)
	t := b.Table("messages")
	s := b.Select(t.C("id"), t.C("text"), t.C("conversation_id")).From(t).
		Where(sql.And(sql.InValues(t.C("conversation_id"), ids...), sql.EQ(t.C("workspace_id"), "ws1")))
	order := sql.ExprFunc(func(b *sql.Builder) { b.Ident("sent_at").WriteString(" DESC").Comma().Ident("id").WriteString(" DESC") })
	sqlpage.LimitPerParent("conversation_id", ids, limit, order)(s)
	return s
}

func TestLimitPerParentPostgres(t *testing.T) {
	t.Parallel()
	q, args := page(dialect.Postgres, []driver.Value{"cv1", "cv2"}, 1).Query()
	require.Equal(t, `SELECT "messages"."id", "messages"."text", "messages"."conversation_id" FROM (VALUES ($1), ($2)) AS "__parent"("id") CROSS JOIN LATERAL `+
		`(SELECT "messages"."id", "messages"."text", "messages"."conversation_id" FROM "messages" WHERE "messages"."conversation_id" IN ($3, $4) AND "messages"."workspace_id" = $5 AND "messages"."conversation_id" = "__parent"."id" ORDER BY "sent_at" DESC, "id" DESC LIMIT 1) AS "messages" `+
		`ORDER BY "sent_at" DESC, "id" DESC`, q)
	require.Equal(t, []any{"cv1", "cv2", "cv1", "cv2", "ws1"}, args)
}

// On SQLite the page is read through the (conversation_id, sent_at)
// index, a few rows per conversation, whatever their length.
func TestLimitPerParentSQLite(t *testing.T) {
	t.Parallel()
	db, err := stdsql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.Exec(`CREATE TABLE messages (id TEXT PRIMARY KEY, text TEXT, conversation_id TEXT, workspace_id TEXT, sent_at DATETIME);
		CREATE INDEX message_conversation_id_sent_at ON messages (conversation_id, sent_at)`)
	require.NoError(t, err)
	for c := range 3 {
		for m := range 200 {
			_, err := db.Exec(`INSERT INTO messages VALUES (?, ?, ?, 'ws1', ?)`, fmt.Sprintf("msg%d-%03d", c, m), fmt.Sprintf("c%d m%d", c, m),
				fmt.Sprintf("cv%d", c), fmt.Sprintf("2026-01-01 00:%02d:%02d", m/60, m%60))
			require.NoError(t, err)
		}
	}
	_, err = db.Exec(`INSERT INTO messages VALUES ('other', 'other workspace', 'cv1', 'ws2', '2027-01-01 00:00:00')`)
	require.NoError(t, err)

	read := func(limit int) []string {
		q, args := page(dialect.SQLite, []driver.Value{"cv0", "cv1", "cv9"}, limit).Query()
		rows, err := db.Query(q, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, text, cv string
			require.NoError(t, rows.Scan(&id, &text, &cv))
			out = append(out, text)
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.ElementsMatch(t, []string{"c0 m199", "c1 m199"}, read(1))
	require.ElementsMatch(t, []string{"c0 m199", "c0 m198", "c1 m199", "c1 m198"}, read(2))

	q, args := page(dialect.SQLite, []driver.Value{"cv0", "cv1"}, 1).Query()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	require.Contains(t, joined, "message_conversation_id_sent_at", joined)
	require.NotContains(t, joined, "SCAN messages", joined)
}
