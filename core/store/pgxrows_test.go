package store_test

import (
	"context"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/channel"
)

// On PostgreSQL ent's node queries outside a transaction read their rows
// from pgx (nodeReader); in a transaction they go through database/sql.
// Both read the same nodes: every kind of column (strings, enums, bytes,
// JSON, times, NULLs) and a column ent does not know (SelectValues).
// PostgreSQL only: SQLite reads through database/sql in both cases.
func TestNodeReaderReadsWhatDatabaseSQLReads(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t, storetest.Postgres)
	{
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		ctx = tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		expires := time.Date(2026, 5, 1, 12, 30, 15, 123456000, time.UTC)
		_, err = s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
			SetExternalID("full").SetName("Full").SetCredentials([]byte(`{"token":"t"}`)).SetAppSecret([]byte{0, 1, 2, 255}).
			SetTokenExpiresAt(expires).SetTokenScopes([]string{"a", "b"}).SetLastError("boom").Save(ctx)
		require.NoError(t, err)
		_, err = s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
			SetExternalID("bare").Save(ctx)
		require.NoError(t, err)

		read := func(c *ent.Client) ([]*ent.Channel, []*ent.Workspace, []any) {
			chs, err := c.Channel.Query().Order(channel.ByExternalID()).All(ctx)
			require.NoError(t, err)
			wss, err := c.Workspace.Query().All(ctx)
			require.NoError(t, err)
			extra, err := c.Channel.Query().Order(channel.ByExternalID()).Modify(func(s *entsql.Selector) {
				s.AppendSelectExprAs(entsql.Expr("LENGTH("+s.C(channel.FieldExternalID)+")"), "n")
				s.AppendSelectExprAs(entsql.Expr(s.C(channel.FieldTokenExpiresAt)), "t")
				s.AppendSelectExprAs(entsql.Expr("UPPER("+s.C(channel.FieldExternalID)+")"), "u")
			}).All(ctx)
			require.NoError(t, err)
			var vals []any
			for _, c := range extra {
				for _, name := range []string{"n", "t", "u"} {
					v, err := c.Value(name)
					require.NoError(t, err)
					vals = append(vals, v)
				}
			}
			return chs, wss, vals
		}
		chs, wss, vals := read(s.Ent)
		var txChs []*ent.Channel
		var txWss []*ent.Workspace
		var txVals []any
		require.NoError(t, s.InTx(ctx, func(tx *store.Tx) error {
			txChs, txWss, txVals = read(tx.Ent)
			return nil
		}))
		require.Len(t, chs, 2)
		full := chs[1]
		require.Equal(t, []byte(`{"token":"t"}`), full.Credentials)
		require.Equal(t, []byte{0, 1, 2, 255}, full.AppSecret)
		require.True(t, expires.Equal(*full.TokenExpiresAt))
		require.Equal(t, []string{"a", "b"}, full.TokenScopes)
		require.Nil(t, chs[0].TokenExpiresAt)
		for i := range chs {
			require.Equal(t, txChs[i].String(), chs[i].String())
			require.Equal(t, txChs[i].Credentials, chs[i].Credentials)
			require.Equal(t, txChs[i].AppSecret, chs[i].AppSecret)
		}
		require.Equal(t, len(txWss), len(wss))
		for i := range wss {
			require.Equal(t, txWss[i].String(), wss[i].String())
		}
		require.Equal(t, txVals, vals)
	}
}
