package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/auditlog"
)

// TestEveryMutationIsAudited walks the Mutation type of the running
// server's schema: every mutation must have a fixture (audit_fixtures_test.go),
// and its valid call must write at least one audit entry carrying the
// request's X-Request-ID, within the request (the same transaction as
// the change), with no message text in it.
func TestEveryMutationIsAudited(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		// The Google emulator for review replies; NEKSIO_META_APP_ID for OAuth.
		g := newGoogleEnv(t, d, withGoogleEnviron("NEKSIO_META_APP_ID=walk-app"))
		wa := g.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"connector": "whatsapp", "externalId": testWAPhoneID, "name": "Acme WhatsApp",
				"credentials": map[string]any{"accessToken": testWAToken}}})
		g.WAChannel = dig(wa, "connectChannel", "id").(string)
		w := &auditWalk{e: g.env, g: g}

		intro := g.gql(t, `{ __schema { mutationType { fields { name } } } }`, nil)
		var names []string
		for _, f := range dig(intro, "__schema", "mutationType", "fields").([]any) {
			names = append(names, f.(map[string]any)["name"].(string))
		}
		sort.Strings(names)
		var missing, stale []string
		inSchema := map[string]bool{}
		for _, n := range names {
			inSchema[n] = true
			if mutationFixtures[n] == nil {
				missing = append(missing, n)
			}
		}
		for n := range mutationFixtures {
			if !inSchema[n] {
				stale = append(stale, n)
			}
		}
		require.Empty(t, missing, "mutations without a fixture: add a valid call to mutationFixtures (cmd/neksio/audit_fixtures_test.go), and an audit entry to the mutation")
		require.Empty(t, stale, "fixtures of mutations the schema no longer has")

		platform := tenant.NewContext(context.Background(), tenant.PlatformViewer("test"))
		// Texts the fixtures send as message or note content: never in an entry.
		texts := []string{"Thanks!", "Called back", "Hello there", "How much is delivery", "We open daily", "Delivery costs"}
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				call := mutationFixtures[name](t, w)
				rid := "walk-" + name
				r := w.run(t, call, rid)
				require.Empty(t, r.Errors, "%s: %v", name, r.Errors)
				entries, err := g.App.Store.Ent.AuditLog.Query().Where(auditlog.RequestID(rid)).All(platform)
				require.NoError(t, err)
				require.NotEmpty(t, entries, "%s wrote no audit entry", name)
				for _, en := range entries {
					require.NotEmpty(t, en.Actor)
					require.NotEmpty(t, en.Action)
					require.NotEmpty(t, en.TargetType)
					raw, _ := json.Marshal(en.Metadata)
					for _, s := range texts {
						require.NotContains(t, string(raw), s, "%s: message text in the audit entry", name)
					}
				}
			})
		}

		// auditLogs filters: request, action and target, actor, time range; admins only.
		one := g.gql(t, `{ auditLogs(first: 5, where: {requestID: "walk-createLabel"}) { totalCount edges { node { action targetType actor requestID } } } }`, nil)
		require.EqualValues(t, 1, dig(one, "auditLogs", "totalCount"))
		require.Equal(t, "label.create", dig(one, "auditLogs", "edges", 0, "node", "action"))
		actor := dig(one, "auditLogs", "edges", 0, "node", "actor").(string)
		byTarget := g.gql(t, `query($a: String!) { auditLogs(first: 50, where: {action: "label.create", targetType: "Label", actor: $a}) { totalCount } }`,
			map[string]any{"a": actor})
		require.GreaterOrEqual(t, dig(byTarget, "auditLogs", "totalCount").(float64), 1.0)
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		none := g.gql(t, `query($t: Time!) { auditLogs(first: 5, where: {createdAtGTE: $t}) { totalCount } }`, map[string]any{"t": future})
		require.EqualValues(t, 0, dig(none, "auditLogs", "totalCount"))
		r := g.gqlAs(t, g.keyAs(t, tenant.RoleAgent), `{ auditLogs(first: 1) { totalCount } }`, nil)
		require.Equal(t, "FORBIDDEN", r.Code())
	})
}

// run sends call with X-Request-ID: rid.
func (w *auditWalk) run(t *testing.T, call mutationCall, rid string) gqlResponse {
	t.Helper()
	var body bytes.Buffer
	contentType := "application/json"
	if call.Upload != nil {
		mw := multipart.NewWriter(&body)
		ops, _ := json.Marshal(map[string]any{"query": call.Query, "variables": call.Vars})
		require.NoError(t, mw.WriteField("operations", string(ops)))
		m, _ := json.Marshal(map[string][]string{"0": {call.UploadPath}})
		require.NoError(t, mw.WriteField("map", string(m)))
		fw, err := mw.CreateFormFile("0", call.UploadName)
		require.NoError(t, err)
		_, _ = fw.Write(call.Upload)
		require.NoError(t, mw.Close())
		contentType = mw.FormDataContentType()
	} else {
		b, _ := json.Marshal(map[string]any{"query": call.Query, "variables": call.Vars})
		body.Write(b)
	}
	req, err := http.NewRequest(http.MethodPost, w.e.URL+"/graphql", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Request-ID", rid)
	if !call.NoCredential {
		key := call.Key
		if key == "" {
			key = w.e.Key
		}
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := w.e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, rid, resp.Header.Get("X-Request-ID"), "the request ID is echoed")
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	out.Status = resp.StatusCode
	return out
}
