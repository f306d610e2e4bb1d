package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta/sandbox"
)

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A bad app id or redirect URI is an error page, never a redirect: the
// dialog must not send a code, or the person, anywhere it was not told.
func TestLoginDialogRefusals(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.WithAppID("app-1"))
	sb.AddUser("u1", "Ann")
	srv := newServer(t, sb)
	for _, q := range []url.Values{
		{"client_id": {"other-app"}, "redirect_uri": {"https://n.example/cb"}},
		{"client_id": {"app-1"}, "redirect_uri": {"/relative"}},
		{"client_id": {"app-1"}, "redirect_uri": {"https://n.example/cb"}, "response_type": {"token"}},
	} {
		code, _ := get(t, srv+"/v21.0/dialog/oauth?"+q.Encode())
		require.Equal(t, http.StatusBadRequest, code, q.Encode())
	}
	code, page := get(t, srv+"/v21.0/dialog/oauth?client_id=app-1&redirect_uri=https://n.example/cb&state=%3Cscript%3E")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, string(page), "<script>", "the state is escaped")
}

func TestSubscriptionsAndAttachments(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	sb.AddPage("100", "Cafe", "tok")
	srv := newServer(t, sb)
	resp, err := http.PostForm(srv+"/v21.0/100/subscribed_apps", url.Values{"access_token": {"tok"}, "subscribed_fields": {"messages,feed"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.PostForm(srv+"/v21.0/100/subscribed_apps", url.Values{"access_token": {"tok"}, "subscribed_fields": {"nonsense"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	code, body := get(t, srv+"/_sandbox/subscriptions")
	require.Equal(t, http.StatusOK, code)
	var subs map[string][]string
	require.NoError(t, json.Unmarshal(body, &subs))
	require.Equal(t, []string{"feed", "messages"}, subs["100"])

	path := sb.AddAttachment([]byte("img"), "image/jpeg")
	code, body = get(t, srv+path)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "img", string(body))
	sb.ExpireAttachments()
	code, _ = get(t, srv+path)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = get(t, srv+"/_sandbox/cdn/unknown")
	require.Equal(t, http.StatusNotFound, code)
}

func newServer(t *testing.T, sb *sandbox.Server) string {
	t.Helper()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return srv.URL
}
