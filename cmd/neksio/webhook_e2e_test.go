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

// `neksio sandbox` serves the emulators a server can be pointed at: a
// WhatsApp number that keeps the 24-hour window (simulate tells it when
// the customer wrote) and has templates, and Facebook Login, so a Page is
// connected through OAuth end to end.
func TestSandboxCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	root := rootCmd()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"sandbox", "--addr", "127.0.0.1:0", "--whatsapp-app-secret", "", "--meta-app-secret", testMetaSecret})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewReader(pr)
	var printed strings.Builder
	for !strings.Contains(printed.String(), "What the connectors sent") {
		line, err := lines.ReadString('\n')
		require.NoError(t, err, printed.String())
		printed.WriteString(line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	text := printed.String()
	base := strings.TrimSuffix(strings.Fields(text)[3], ".")
	appID := regexp.MustCompile(`NEKSIO_META_APP_ID=(\S+)`).FindStringSubmatch(text)
	require.Len(t, appID, 2, text)
	require.Contains(t, text, "NEKSIO_META_AUTH_URL="+base+"/meta/v21.0/dialog/oauth")

	e := newEnv(t, storetest.SQLite, withoutWhatsAppChannel(), withEnviron("NEKSIO_WHATSAPP_API_BASE_URL="+base+"/whatsapp",
		"NEKSIO_META_API_BASE_URL="+base+"/meta", "NEKSIO_META_APP_ID="+appID[1], "NEKSIO_META_AUTH_URL="+base+"/meta/v21.0/dialog/oauth"))
	ch := e.gql(t, `mutation { connectChannel(input: {connector: "whatsapp", externalId: "106540352242922", name: "s",
		credentials: {accessToken: "sandbox-whatsapp-token"}}) { id } }`, nil)
	data := e.gql(t, `query($id: ID!) { whatsappTemplates(channelId: $id) { name parameters } }`, map[string]any{"id": dig(ch, "connectChannel", "id")})
	require.Equal(t, "hello_world", dig(data, "whatsappTemplates", 0, "name"))
	require.Equal(t, "order_update", dig(data, "whatsappTemplates", 1, "name"))
	_, err := run(t, "simulate", "whatsapp", "--url", e.URL, "--app-secret", testWAAppSecret, "--phone-number-id", testWAPhoneID,
		"--from", "16505551234", "--text", "hi", "--sandbox-url", base+"/whatsapp")
	require.NoError(t, err)
	conv := dig(e.gql(t, `{ conversations(first: 1) { edges { node { id } } } }`, nil), "conversations", "edges", 0, "node", "id")
	e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hello from the sandbox"}) { id } }`, map[string]any{"id": conv})
	e.gql(t, `mutation($id: ID!) { sendTemplate(input: {conversationId: $id, name: "order_update", language: "en_US", parameters: ["Ann", "#7"]}) { id } }`,
		map[string]any{"id": conv})
	e.waitJobs(t)
	resp, err := http.Get(base + "/_sandbox/whatsapp/sent")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sent []struct {
		Text     string
		Template *struct{ Name string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sent))
	require.Len(t, sent, 2)
	var texts []string
	for _, m := range sent {
		if m.Template != nil {
			texts = append(texts, "template "+m.Template.Name)
		} else {
			texts = append(texts, m.Text)
		}
	}
	require.ElementsMatch(t, []string{"hello from the sandbox", "template order_update"}, texts)

	// Facebook Login against the sandbox: its consent page sends the
	// browser back to this server, and the Page and its Instagram account
	// are connected without a token.
	id, consentURL := e.startAuthorization(t, e.Key, "meta")
	status, final, body := visit(t, consent(t, consentURL, "allow", nil))
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "granted", final.Query().Get("status"))
	r := e.authorization(t, e.Key, id)
	require.Equal(t, map[string]string{"1000000000001": "facebook:Sandbox Page", "1780000000000001": "instagram:sandbox_shop"}, accountsOf(r))
	require.Empty(t, e.connectAuthorized(t, e.Key, id, "1000000000001").Errors)
	cancel()
	require.NoError(t, <-done)
}
