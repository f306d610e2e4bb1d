package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
)

const analyticsQuery = `query($range: AnalyticsRangeInput!, $filter: AnalyticsFilterInput) {
  analytics(range: $range, filter: $filter) {
    timezone
    summary { conversationsOpened { value previous change } conversationsResolved { value } messagesIn { value previous }
      messagesOut { value } firstResponseTime { value } firstResponseTimeMedian { value } conversationsOpen { value } }
    timeseries(metrics: [MESSAGES_IN], granularity: HOUR) { metric points { start end value } }
    breakdown(metric: MESSAGES_IN, by: CHANNEL) { key label value }
  } }`

// Analytics over GraphQL: a delivery through the real webhook path, a
// person's reply and resolution, the figures, the CSV export behind a
// signed link, the roles and tenant isolation.
func TestAnalyticsEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		e.whatsappText(t, "15550001111", "hello, are you open on sunday?")
		e.whatsappText(t, "15550001111", "and is there parking?")
		e.waitJobs(t)
		conv := dig(e.gql(t, `{ conversations(first: 1) { edges { node { id } } } }`, nil), "conversations", "edges", 0, "node", "id").(string)
		e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Yes, 9 to 5"}) { id } }`, map[string]any{"id": conv})
		e.gql(t, `mutation($id: ID!) { updateConversation(id: $id, input: {status: RESOLVED}) { id } }`, map[string]any{"id": conv})

		now := time.Now().UTC()
		rg := map[string]any{"from": now.Add(-2 * time.Hour).Truncate(time.Hour).Format(time.RFC3339),
			"to": now.Add(2 * time.Hour).Truncate(time.Hour).Format(time.RFC3339), "timezone": "Asia/Kolkata"}
		data := e.gql(t, analyticsQuery, map[string]any{"range": rg})
		a := dig(data, "analytics")
		require.Equal(t, "Asia/Kolkata", dig(a, "timezone"))
		require.EqualValues(t, 1, dig(a, "summary", "conversationsOpened", "value"))
		require.EqualValues(t, 0, dig(a, "summary", "conversationsOpened", "previous"))
		require.Nil(t, dig(a, "summary", "conversationsOpened", "change"))
		require.EqualValues(t, 1, dig(a, "summary", "conversationsResolved", "value"))
		require.EqualValues(t, 2, dig(a, "summary", "messagesIn", "value"))
		require.EqualValues(t, 1, dig(a, "summary", "messagesOut", "value"))
		require.EqualValues(t, 0, dig(a, "summary", "conversationsOpen", "value"))
		require.NotNil(t, dig(a, "summary", "firstResponseTime", "value"))
		// Kolkata is UTC+5:30: hours start at :30 UTC, 5 buckets over 4 h.
		points := dig(a, "timeseries", 0, "points").([]any)
		require.Len(t, points, 5)
		total := 0.0
		for _, p := range points {
			total += p.(map[string]any)["value"].(float64)
		}
		require.Equal(t, 2.0, total)
		require.Equal(t, e.WAChannel, dig(a, "breakdown", 0, "key"))
		require.Equal(t, "Acme WhatsApp", dig(a, "breakdown", 0, "label"))

		// The rollup job changes nothing in the answer.
		require.NoError(t, e.App.GraphDeps.Analytics.RollAll(context.Background()))
		require.Equal(t, data, e.gql(t, analyticsQuery, map[string]any{"range": rg}))

		// The export: a CSV behind a signed link that expires.
		exp := e.gql(t, `mutation($in: ExportAnalyticsInput!) { exportAnalytics(input: $in) { url expiresAt } }`,
			map[string]any{"in": map[string]any{"range": rg, "granularity": "HOUR"}})
		url := dig(exp, "exportAnalytics", "url").(string)
		resp, err := e.client.Get(url)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/csv", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
		csv := string(body)
		require.True(t, strings.HasPrefix(csv, "section,metric,start,end,group,value,previous,change\n"), csv)
		require.Contains(t, csv, "summary,MESSAGES_IN,")
		require.Contains(t, csv, "by_channel,MESSAGES_IN,")
		resp, err = e.client.Get(strings.Replace(url, "sig=", "sig=x", 1))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)

		// Roles: an analyst reads and exports; an agent's key reads nothing.
		ctx := context.Background()
		analyst, _, err := e.App.Auth.CreateKeyForWorkspace(ctx, e.Workspace, "analyst", tenant.RoleAnalyst)
		require.NoError(t, err)
		r := e.gqlAs(t, analyst, analyticsQuery, map[string]any{"range": rg})
		require.Empty(t, r.Errors)
		require.EqualValues(t, 2, dig(r.Data, "analytics", "summary", "messagesIn", "value"))
		r = e.gqlAs(t, analyst, `mutation($in: ExportAnalyticsInput!) { exportAnalytics(input: $in) { url } }`,
			map[string]any{"in": map[string]any{"range": rg}})
		require.Empty(t, r.Errors)
		agent, _, err := e.App.Auth.CreateKeyForWorkspace(ctx, e.Workspace, "agent", tenant.RoleAgent)
		require.NoError(t, err)
		require.Equal(t, "FORBIDDEN", e.gqlAs(t, agent, analyticsQuery, map[string]any{"range": rg}).Code())

		// Another workspace sees none of it, and cannot name this one's channel.
		_, otherKey := e.newWorkspace(t, "Other")
		r = e.gqlAs(t, otherKey, analyticsQuery, map[string]any{"range": rg})
		require.Empty(t, r.Errors)
		require.EqualValues(t, 0, dig(r.Data, "analytics", "summary", "messagesIn", "value"))
		require.Empty(t, dig(r.Data, "analytics", "breakdown"))
		r = e.gqlAs(t, otherKey, analyticsQuery, map[string]any{"range": rg, "filter": map[string]any{"channelIds": []string{e.WAChannel}}})
		require.Equal(t, "NOT_FOUND", r.Code())
		r = e.gqlAs(t, otherKey, `mutation($in: ExportAnalyticsInput!) { exportAnalytics(input: $in) { url } }`,
			map[string]any{"in": map[string]any{"range": rg, "filter": map[string]any{"channelIds": []string{e.WAChannel}}}})
		require.Equal(t, "NOT_FOUND", r.Code())

		// Bad input.
		bad := func(rg map[string]any) string {
			return e.gqlAs(t, e.Key, analyticsQuery, map[string]any{"range": rg}).Code()
		}
		require.Equal(t, "BAD_USER_INPUT", bad(map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2027-03-01T00:00:00Z"}))
		require.Equal(t, "BAD_USER_INPUT", bad(map[string]any{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}))
		require.Equal(t, "BAD_USER_INPUT", bad(map[string]any{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "timezone": "Europe/Atlantis"}))
	})
}

// neksio analytics rebuild recomputes the rollups from the base tables.
func TestAnalyticsRebuildCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NEKSIO_DATA_DIR", dir)
	t.Setenv("NEKSIO_DATABASE_URL", "")
	out, err := run(t, "workspace", "create", "--name", "Acme")
	require.NoError(t, err)
	ws := strings.TrimSpace(out)
	out, err = run(t, "analytics", "rebuild", "--workspace", ws)
	require.NoError(t, err)
	require.Contains(t, out, "rolled up")
	out, err = run(t, "analytics", "rebuild")
	require.NoError(t, err)
	require.Contains(t, out, "rolled up")
}
