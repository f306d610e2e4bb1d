package privacy

import (
	"sort"
	"testing"

	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/ent/migrate"
)

// TestRegistryCoversSchema fails when a table is added to the ent schema
// without saying, in Tables, how export, erasure, purge and retention
// treat it (or why they leave it out).
func TestRegistryCoversSchema(t *testing.T) {
	inSchema := map[string]bool{}
	for _, tbl := range migrate.Tables {
		inSchema[tbl.Name] = true
		_, ok := Tables[tbl.Name]
		require.True(t, ok, "table %s is neither covered nor excluded in core/privacy Tables", tbl.Name)
	}
	for name, r := range Tables {
		require.True(t, inSchema[name], "Tables lists %s, which the schema no longer has", name)
		if r.Scope == Platform || r.NoExport {
			require.NotEmpty(t, r.Reason, "%s is left out without a reason", name)
		}
		if r.Scope == Tenant {
			tb := table{Table: findTable(name), Rule: r}
			require.True(t, tb.has("workspace_id"), "tenant table %s has no workspace_id", name)
		}
	}
	_, err := newGraph(migrate.Tables)
	require.NoError(t, err)
}

// TestSensitiveFieldsNeverExported: every field ent marks Sensitive is a
// secret column of its table's rule.
func TestSensitiveFieldsNeverExported(t *testing.T) {
	g, err := entc.LoadGraph("../../ent/schema", &gen.Config{})
	require.NoError(t, err)
	var missing []string
	for _, n := range g.Nodes {
		r := Tables[n.Table()]
		tb := table{Table: findTable(n.Table()), Rule: r}
		for _, f := range n.Fields {
			if f.Sensitive() && !tb.secret(f.StorageKey()) && !r.NoExport {
				missing = append(missing, n.Table()+"."+f.StorageKey())
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "sensitive fields an export would carry: add them to Secret")
}

func TestChildrenFirst(t *testing.T) {
	pos := map[string]int{}
	for i, tb := range schemaGraph.order {
		pos[tb.Name] = i
	}
	for _, tb := range schemaGraph.order {
		for _, fk := range tb.ForeignKeys {
			if fk.RefTable.Name != tb.Name {
				require.Less(t, pos[tb.Name], pos[fk.RefTable.Name], "%s must be deleted before %s", tb.Name, fk.RefTable.Name)
			}
		}
	}
}

func TestMentions(t *testing.T) {
	ids := map[string]bool{"msg_1": true}
	require.True(t, mentions(`{"workspace_id":"ws_1","message_id":"msg_1"}`, ids))
	require.True(t, mentions(`{"a":["x",{"b":"msg_1"}]}`, ids))
	require.False(t, mentions(`{"message_id":"msg_10"}`, ids))
	require.False(t, mentions(`not json msg_1`, ids))
}

func findTable(name string) *schemaTable {
	for _, t := range migrate.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}
