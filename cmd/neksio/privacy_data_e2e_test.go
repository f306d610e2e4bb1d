package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
)

// Privacy through the API (docs/privacy.md): exports by role with a signed
// download, erasure across tenants, workspace deletion by confirmation.
func TestPrivacyE2E(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		require.Equal(t, 200, e.whatsappWebhook(t, e.whatsappText(t, "15551230987", "please forget me 4711")))
		e.waitJobs(t)
		contact := dig(e.gql(t, `{ contacts(first: 5) { edges { node { id } } } }`, nil), "contacts", "edges", 0, "node", "id").(string)

		ctx := context.Background()
		agentKey, _, err := e.App.Auth.CreateKeyForWorkspace(ctx, e.Workspace, "agent", tenant.RoleAgent)
		require.NoError(t, err)
		analystKey, _, err := e.App.Auth.CreateKeyForWorkspace(ctx, e.Workspace, "analyst", tenant.RoleAnalyst)
		require.NoError(t, err)
		const request = `mutation($in: RequestExportInput!) { requestExport(input: $in) { id status url } }`
		for _, k := range []string{agentKey, analystKey} {
			r := e.gqlAs(t, k, request, map[string]any{"in": map[string]any{"scope": "WORKSPACE"}})
			require.Equal(t, "FORBIDDEN", r.Code())
		}
		data := e.gql(t, request, map[string]any{"in": map[string]any{"scope": "CONTACT", "contactId": contact}})
		require.Equal(t, "PENDING", dig(data, "requestExport", "status"))
		e.waitJobs(t)
		data = e.gql(t, `{ exports { id status url expiresAt } }`, nil)
		if dig(data, "exports", 0, "status") != "READY" {
			var errs string
			_ = e.App.Store.DB.QueryRow(`SELECT state || ' ' || COALESCE(CAST(errors AS TEXT), '') FROM river_job WHERE kind = 'export.build'`).Scan(&errs)
			t.Fatalf("export not ready: %v; job: %s", data, errs)
		}
		link := dig(data, "exports", 0, "url").(string)
		code, _, body := fetch(t, link)
		require.Equal(t, 200, code)
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		require.NoError(t, err)
		var all strings.Builder
		for _, f := range zr.File {
			rc, err := f.Open()
			require.NoError(t, err)
			var b bytes.Buffer
			_, _ = b.ReadFrom(rc)
			rc.Close()
			all.Write(b.Bytes())
		}
		require.Contains(t, all.String(), "please forget me 4711")
		require.NotContains(t, all.String(), testWAToken, "no token in an export")
		code, _, _ = fetch(t, link+"x")
		require.Equal(t, 403, code, "a changed signature")

		// Another workspace cannot erase this contact.
		_, otherKey := e.newWorkspace(t, "Other Shop")
		r := e.gqlAs(t, otherKey, `mutation($id: ID!) { eraseContact(id: $id) { deletedId } }`, map[string]any{"id": contact})
		require.Equal(t, "NOT_FOUND", r.Code())
		data = e.gql(t, `mutation($id: ID!) { eraseContact(id: $id) { deletedId } }`, map[string]any{"id": contact})
		require.Equal(t, contact, dig(data, "eraseContact", "deletedId"))
		var n int
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM messages WHERE text LIKE '%forget me 4711%'`).Scan(&n))
		require.Zero(t, n)
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM contacts WHERE id = '`+contact+`'`).Scan(&n))
		require.Zero(t, n)

		// Deleting the workspace takes its exact name, from an owner.
		const del = `mutation($n: String!) { deleteWorkspace(input: {confirmName: $n}) { id deletionScheduledAt } }`
		r = e.gqlAs(t, e.Key, del, map[string]any{"n": "Acme"})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		adminKey, _, err := e.App.Auth.CreateKeyForWorkspace(ctx, e.Workspace, "admin", tenant.RoleAdmin)
		require.NoError(t, err)
		r = e.gqlAs(t, adminKey, del, map[string]any{"n": "Acme Coffee"})
		require.Equal(t, "FORBIDDEN", r.Code())
		data = e.gql(t, del, map[string]any{"n": "Acme Coffee"})
		require.NotNil(t, dig(data, "deleteWorkspace", "deletionScheduledAt"))
		var status string
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT status FROM channels WHERE id = '`+e.WAChannel+`'`).Scan(&status))
		require.Equal(t, "DISCONNECTED", status)
		r = e.gqlAs(t, e.Key, `{ viewer { role } }`, nil)
		require.Equal(t, "UNAUTHENTICATED", r.Code(), "the workspace's keys end at once")
	})
}

func TestCLIExport(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NEKSIO_DATA_DIR", dir)
	t.Setenv("NEKSIO_DATABASE_URL", "")
	_, err := run(t, "migrate")
	require.NoError(t, err)
	out, err := run(t, "workspace", "create", "--name", "Acme")
	require.NoError(t, err)
	ws := strings.TrimSpace(out)
	file := filepath.Join(t.TempDir(), "acme.zip")
	_, err = run(t, "export", "--workspace", ws, "--out", file)
	require.NoError(t, err)
	body, err := os.ReadFile(file)
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	require.True(t, names["manifest.json"])
	require.True(t, names["workspaces.jsonl"])
	_, err = run(t, "export", "--workspace", "ws_01JD3V0000000000000000000A", "--out", file+"2")
	require.Error(t, err)
}
