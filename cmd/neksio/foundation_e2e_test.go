package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
)

func TestViewerAndAuth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		data := e.gql(t, `{ viewer { role workspace { id name } } }`, nil)
		require.Equal(t, "OWNER", dig(data, "viewer", "role"))
		require.Equal(t, e.Workspace, dig(data, "viewer", "workspace", "id"))

		// The built-in connectors run as plugins and describe themselves.
		data = e.gql(t, `{ connectors { name version platforms capabilities healthy } }`, nil)
		byName := map[string]any{}
		for _, c := range dig(data, "connectors").([]any) {
			byName[dig(c, "name").(string)] = c
		}
		require.Equal(t, true, dig(byName["whatsapp"], "healthy"))
		require.Equal(t, []any{"whatsapp"}, dig(byName["whatsapp"], "platforms"))
		require.Equal(t, []any{"facebook", "instagram"}, dig(byName["meta"], "platforms"))
		require.Contains(t, dig(byName["meta"], "capabilities"), "private_reply")

		for _, key := range []string{"", "nks_bogus", "nks_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			r := e.gqlAs(t, key, `{ viewer { role } }`, nil)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Equal(t, "UNAUTHENTICATED", r.Code())
		}
	})
}
