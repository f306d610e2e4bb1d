package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// A customer who brings their own Meta app gets a channel endpoint that
// verifies with that app's secret and verify token.
func TestOwnAppEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	ch := e.gql(t, `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"connector": "whatsapp", "externalId": testWAPhoneID, "name": "own app",
		"credentials": map[string]any{"accessToken": testWAToken}, "appSecret": "own-secret", "verifyToken": "own-verify"}})
	id := dig(ch, "connectChannel", "id").(string)
	path := "/webhooks/whatsapp/" + id

	resp, err := http.Get(e.URL + path + "?hub.mode=subscribe&hub.challenge=42&hub.verify_token=own-verify")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(e.URL + path + "?hub.mode=subscribe&hub.challenge=42&hub.verify_token=" + testWAVerifyToken)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the global token does not open a channel's own endpoint")

	body := wasandbox.TextMessage(testWAPhoneID, "16505551234", "Ann", "via own app")
	code, _ := e.postWebhook(t, path, body, map[string]string{"X-Hub-Signature-256": wasandbox.Sign(testWAAppSecret, body)})
	require.Equal(t, http.StatusUnauthorized, code, "signed with the global secret")
	code, _ = e.postWebhook(t, path, body, map[string]string{"X-Hub-Signature-256": wasandbox.Sign("own-secret", body)})
	require.Equal(t, http.StatusOK, code)
	// Events of another account on this channel's endpoint are dropped.
	other := wasandbox.TextMessage("555", "16505551234", "Ann", "wrong account")
	code, _ = e.postWebhook(t, path, other, map[string]string{"X-Hub-Signature-256": wasandbox.Sign("own-secret", other)})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, countRows(t, e, "messages"))

	code, _ = e.postWebhook(t, "/webhooks/whatsapp/ch_01JD3V0000000000000000000A", body, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = e.postWebhook(t, "/webhooks/meta/"+id, body, nil)
	require.Equal(t, http.StatusNotFound, code, "a channel of another connector")
}

// Nothing acknowledged is lost: with the database gone the platform gets a
// 503 and retries; it never gets a 200 for an event that was not stored.
func TestWebhookDatabaseDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	require.NoError(t, e.App.Store.DB.Close())
	body := wasandbox.TextMessage(testWAPhoneID, "16505551234", "Ann", "lost?")
	require.Equal(t, http.StatusServiceUnavailable, e.whatsappWebhook(t, body))
	resp, err := http.Get(e.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// `neksio simulate` posts a correctly signed webhook to a running server.
func TestSimulateCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite)
	out, err := run(t, "simulate", "whatsapp", "--url", e.URL, "--app-secret", testWAAppSecret,
		"--phone-number-id", testWAPhoneID, "--from", "4915112345678", "--text", "simulated hello")
	require.NoError(t, err)
	require.Contains(t, out, "200")
	data := e.gql(t, `{ messages(first: 5) { edges { node { text } } } }`, nil)
	require.Equal(t, "simulated hello", dig(data, "messages", "edges", 0, "node", "text"))
	_, err = run(t, "simulate", "whatsapp", "--url", e.URL, "--app-secret", "wrong", "--phone-number-id", testWAPhoneID)
	require.Error(t, err, "a wrong secret is refused with 401")

	e.connectMeta(t)
	_, err = run(t, "simulate", "instagram", "--kind", "comment", "--url", e.URL, "--app-secret", testMetaSecret,
		"--account", testIGID, "--post", "media-1", "--from", "igsid-1", "--text", "simulated comment")
	require.NoError(t, err)
	convs := e.conversationsByThread(t)
	require.Equal(t, "COMMENT_THREAD", convs["media-1"].Kind)
}

// The GraphQL endpoint answers GET too, and the playground is served in dev mode.
func TestGraphQLGetAndPlayground(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel())
	req := httptest.NewRequest(http.MethodGet, e.URL+"/graphql?query="+url.QueryEscape("{ viewer { role } }"), nil)
	req.RequestURI = ""
	req.Header.Set("Authorization", "Bearer "+e.Key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(e.URL + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// The playground works offline: it names no other host, and every
	// script and stylesheet it loads is served by this server.
	require.NotRegexp(t, `https?://`, string(page))
	refs := regexp.MustCompile(`\b(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	require.Len(t, refs, 4)
	for _, ref := range refs {
		require.True(t, strings.HasPrefix(ref[1], "/playground/assets/"), ref[1])
		resp, err := http.Get(e.URL + ref[1])
		require.NoError(t, err)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, ref[1])
		require.Greater(t, n, int64(1000), ref[1])
	}
}

// `neksio sandbox` serves the emulators a server can be pointed at.
func TestSandboxCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	root := rootCmd()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"sandbox", "--addr", "127.0.0.1:0", "--whatsapp-app-secret", ""})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	base := strings.TrimSuffix(strings.Fields(line)[3], ".")
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(), withEnviron("NEKSIO_WHATSAPP_API_BASE_URL="+base+"/whatsapp"))
	e.gql(t, `mutation { connectChannel(input: {connector: "whatsapp", externalId: "106540352242922", name: "s",
		credentials: {accessToken: "sandbox-whatsapp-token"}}) { id } }`, nil)
	e.whatsappText(t, "16505551234", "hi")
	conv := dig(e.gql(t, `{ conversations(first: 1) { edges { node { id } } } }`, nil), "conversations", "edges", 0, "node", "id")
	e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hello from the sandbox"}) { id } }`, map[string]any{"id": conv})
	e.waitJobs(t)
	resp, err := http.Get(base + "/_sandbox/whatsapp/sent")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sent []struct{ Text string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sent))
	require.Len(t, sent, 1)
	require.Equal(t, "hello from the sandbox", sent[0].Text)
	cancel()
	require.NoError(t, <-done)
}
