package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	ttsandbox "github.com/neksio/neksio/plugins/tiktok/sandbox"
)

// The whole OAuth onboarding, as a person does it: an admin starts an
// authorization, the browser opens the platform's consent page (the
// emulator's), submits its form, follows the redirect to the server's
// callback and lands on the result page; the admin then lists what the
// grant opens and connects it without pasting a token.

const (
	testMetaAppID = "meta-app-1"
	testMetaUser  = "10000000000000042"
)

// noFollow is a browser that stops at each redirect, so a test sees (and
// can replay or tamper with) the callback URL.
var noFollow = &http.Client{Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consent opens a consent page, fills its form the way a person would
// (the preselected or first choice of each radio group, the given values
// for the rest) and submits it with decision; it returns where the
// platform redirects the browser: the server's callback.
func consent(t *testing.T, consentURL, decision string, set map[string]string) string {
	t.Helper()
	resp, err := noFollow.Get(consentURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "consent page: %s", page)
	action, form := parseForm(t, page)
	for k, v := range set {
		form.Set(k, v)
	}
	form.Set("decision", decision)
	target, err := url.Parse(consentURL)
	require.NoError(t, err)
	if action != "" {
		a, err := target.Parse(action)
		require.NoError(t, err)
		target = a
	}
	resp, err = noFollow.Post(target.String(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "consent answer: %s", body)
	loc, err := resp.Location()
	require.NoError(t, err)
	loc.Fragment = "" // a browser never sends it
	return loc.String()
}

// parseForm reads the first form of an HTML page: its action and the
// values a browser would submit (hidden and text inputs, the checked or
// first radio of each group; buttons are added by the caller).
func parseForm(t *testing.T, page []byte) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	var action string
	found := false
	vals := url.Values{}
	radios := map[string]bool{}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if found {
					return
				}
				found = true
				action, _ = attr(n, "action")
			case "input":
				name, _ := attr(n, "name")
				typ, _ := attr(n, "type")
				val, _ := attr(n, "value")
				_, checked := attr(n, "checked")
				switch {
				case name == "":
				case typ == "radio":
					if checked || !radios[name] {
						vals.Set(name, val)
					}
					radios[name] = true
				case typ == "submit" || typ == "button":
				default:
					vals.Set(name, val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	require.True(t, found, "no form on the page: %s", page)
	return action, vals
}

// visit follows a URL on the server through its redirects, as a browser
// does, and returns the last response's status, URL and body.
func visit(t *testing.T, raw string) (int, *url.URL, string) {
	t.Helper()
	resp, err := http.Get(raw)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Request.URL, string(body)
}

// startAuthorization runs startChannelAuthorization with key.
func (e *env) startAuthorization(t *testing.T, key, connector string) (id, consentURL string) {
	t.Helper()
	r := e.gqlAs(t, key, `mutation($c: String!) { startChannelAuthorization(connector: $c) { url authorization { id status connector } } }`,
		map[string]any{"c": connector})
	require.Empty(t, r.Errors, "%+v", r.Errors)
	require.Equal(t, "PENDING", dig(r.Data, "startChannelAuthorization", "authorization", "status"))
	return dig(r.Data, "startChannelAuthorization", "authorization", "id").(string), dig(r.Data, "startChannelAuthorization", "url").(string)
}

const authorizationQuery = `query($id: ID!) { channelAuthorization(id: $id) { id status connector errorCode error expiresAt
	accounts { externalId name platform } } }`

// authorization reads an authorization with key.
func (e *env) authorization(t *testing.T, key, id string) gqlResponse {
	t.Helper()
	return e.gqlAs(t, key, authorizationQuery, map[string]any{"id": id})
}

// accountsOf maps an authorization's accounts by external id to their platform.
func accountsOf(r gqlResponse) map[string]string {
	out := map[string]string{}
	for _, a := range dig(r.Data, "channelAuthorization", "accounts").([]any) {
		out[dig(a, "externalId").(string)] = dig(a, "platform").(string) + ":" + dig(a, "name").(string)
	}
	return out
}

const connectByAuthorization = `mutation($in: ConnectChannelInput!) { connectChannel(input: $in) { id status platform name externalID } }`

func (e *env) connectAuthorized(t *testing.T, key, authorization, externalID string) gqlResponse {
	t.Helper()
	return e.gqlAs(t, key, connectByAuthorization, map[string]any{"in": map[string]any{"authorizationId": authorization, "externalId": externalID}})
}

// newMetaOAuthEnv is a server whose Meta app does Facebook Login against
// the emulator, where a person manages a Page linked to an Instagram
// account.
func newMetaOAuthEnv(t *testing.T, d storetest.Dialect, opts ...envOption) *env {
	t.Helper()
	var metaURL string
	e := newEnv(t, d, append([]envOption{withoutWhatsAppChannel(), withConfig(func(c *config.Config) {
		// The emulator's URL is in the Meta API base setting.
		for _, kv := range c.Environ {
			if v, ok := strings.CutPrefix(kv, "NEKSIO_META_API_BASE_URL="); ok {
				metaURL = v
			}
		}
		c.Environ = append(c.Environ, "NEKSIO_META_APP_ID="+testMetaAppID, "NEKSIO_META_AUTH_URL="+metaURL+"/v21.0/dialog/oauth")
	})}, opts...)...)
	e.Meta.AddPage(testPageID, "Acme Page", testPageToken)
	e.Meta.AddInstagramAccount(testIGID, "acme_shop", testIGToken)
	e.Meta.AddUser(testMetaUser, "Ann Owner", testPageID)
	e.Meta.LinkInstagram(testPageID, testIGID)
	return e
}

// TestOAuthMeta: Facebook Login end to end. The grant opens the Page and
// the Instagram account linked to it, each connected with its own Page
// token, subscribed to webhooks, and then working: DMs on both are
// answered with the tokens the grant brought.
func TestOAuthMeta(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newMetaOAuthEnv(t, d)
		id, consentURL := e.startAuthorization(t, e.Key, "meta")
		u, err := url.Parse(consentURL)
		require.NoError(t, err)
		require.Equal(t, testMetaAppID, u.Query().Get("client_id"))
		require.Equal(t, e.URL+"/oauth/meta/callback", u.Query().Get("redirect_uri"))
		require.NotEmpty(t, u.Query().Get("state"))

		callback := consent(t, consentURL, "allow", nil)
		require.True(t, strings.HasPrefix(callback, e.URL+"/oauth/meta/callback?"), callback)
		status, final, body := visit(t, callback)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "/oauth/result", final.Path)
		require.Equal(t, id, final.Query().Get("authorization"))
		require.Equal(t, "granted", final.Query().Get("status"))
		require.Contains(t, body, id)
		require.NotContains(t, final.RawQuery, "EAA", "no token in the browser's URL")

		r := e.authorization(t, e.Key, id)
		require.Empty(t, r.Errors)
		require.Equal(t, "GRANTED", dig(r.Data, "channelAuthorization", "status"))
		require.Equal(t, map[string]string{testPageID: "facebook:Acme Page", testIGID: "instagram:acme_shop"}, accountsOf(r))

		// The grant is sealed: no token in the row.
		var sealed []byte
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT "grant" FROM channel_authorizations WHERE id = $1`, id).Scan(&sealed))
		require.NotEmpty(t, sealed)
		require.NotContains(t, string(sealed), "EAA")

		page := e.connectAuthorized(t, e.Key, id, testPageID)
		require.Empty(t, page.Errors, "%+v", page.Errors)
		require.Equal(t, "facebook", dig(page.Data, "connectChannel", "platform"))
		require.Equal(t, "Acme Page", dig(page.Data, "connectChannel", "name"))
		require.Equal(t, "ACTIVE", dig(page.Data, "connectChannel", "status"))
		ig := e.connectAuthorized(t, e.Key, id, testIGID)
		require.Empty(t, ig.Errors, "%+v", ig.Errors)
		require.Equal(t, "instagram", dig(ig.Data, "connectChannel", "platform"))
		// Both receive webhooks: the Page is subscribed (the Instagram
		// account through it).
		require.Contains(t, e.Meta.Subscriptions(testPageID), "messages")
		require.Contains(t, e.Meta.Subscriptions(testPageID), "feed")

		// An account the grant does not open is refused, naming it.
		r = e.connectAuthorized(t, e.Key, id, "999")
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, `"999"`)

		// The Page tokens the grant brought work: DMs on both are answered.
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-1", "Hi page")))
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.InstagramDM(testIGID, "igsid-1", "Hi insta")))
		convs := e.conversationsByThread(t)
		for _, thread := range []string{"psid-1", "igsid-1"} {
			e.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "Hello!"}) { id } }`, map[string]any{"id": convs[thread].ID})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.Meta.WaitSent(ctx, 2)
		require.NoError(t, err)
		by := map[string]string{}
		for _, s := range sent {
			by[s.RecipientID] = s.AccountID
		}
		require.Equal(t, map[string]string{"psid-1": testPageID, "igsid-1": testIGID}, by)
		e.waitJobs(t)
		data := e.gql(t, `{ messages(first: 10, where: {direction: OUTBOUND}) { edges { node { deliveryStatus } } } }`, nil)
		for _, m := range dig(data, "messages", "edges").([]any) {
			require.Equal(t, "SENT", dig(m, "node", "deliveryStatus"))
		}

		// Every step is audited, and the connection names the authorization.
		var n int
		for _, action := range []string{"channel.authorization.start", "channel.authorization.grant"} {
			require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM audit_logs WHERE action = $1 AND target_id = $2`, action, id).Scan(&n))
			require.Equal(t, 1, n, action)
		}
		rows, err := e.App.Store.DB.Query(`SELECT metadata FROM audit_logs WHERE action = 'channel.connect'`)
		require.NoError(t, err)
		defer rows.Close()
		n = 0
		for rows.Next() {
			var raw string
			require.NoError(t, rows.Scan(&raw))
			var meta map[string]string
			require.NoError(t, json.Unmarshal([]byte(raw), &meta))
			require.Equal(t, id, meta["authorization"])
			require.Equal(t, "subscribed", meta["webhooks"])
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, 2, n)
	})
}

// TestOAuthGoogle: Google's consent with offline access; the location is
// connected with the grant's access and refresh tokens.
func TestOAuthGoogle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d, withoutGoogleChannel())
		rev := g.review("Bo", 5, "Lovely")
		id, consentURL := g.startAuthorization(t, g.Key, "google")
		u, err := url.Parse(consentURL)
		require.NoError(t, err)
		require.Equal(t, "offline", u.Query().Get("access_type"))
		require.Equal(t, g.URL+"/oauth/google/callback", u.Query().Get("redirect_uri"))
		status, final, body := visit(t, consent(t, consentURL, "allow", nil))
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "granted", final.Query().Get("status"))

		r := g.authorization(t, g.Key, id)
		require.Equal(t, map[string]string{testGoogleLocation: "google:Acme Cafe"}, accountsOf(r))
		c := g.connectAuthorized(t, g.Key, id, testGoogleLocation)
		require.Empty(t, c.Errors, "%+v", c.Errors)
		require.Equal(t, "google", dig(c.Data, "connectChannel", "platform"))
		chID := dig(c.Data, "connectChannel", "id").(string)
		ch, err := g.App.Store.Ent.Channel.Get(tenant.NewContext(context.Background(), tenant.PlatformViewer("test")), pulid.ID(chID))
		require.NoError(t, err)
		creds, err := g.App.Channels.Credentials(ch)
		require.NoError(t, err)
		require.NotEmpty(t, creds.RefreshToken, "offline access: the channel can refresh its token")
		require.NotNil(t, ch.TokenExpiresAt)
		// The backfill ran with the grant's token.
		g.waitJobs(t)
		require.Equal(t, "Lovely", messagesOf(g.reviewConversation(t, rev.Name))[0]["text"])
	})
}

// TestOAuthTikTok: Login Kit; the account chosen on the consent page is
// connected with its refresh token.
func TestOAuthTikTok(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		te := newTikTokEnv(t, d, ttOption{noConnect: true})
		id, consentURL := te.startAuthorization(t, te.Key, "tiktok")
		u, err := url.Parse(consentURL)
		require.NoError(t, err)
		require.Equal(t, testTTKey, u.Query().Get("client_key"))
		status, final, body := visit(t, consent(t, consentURL, "allow", map[string]string{"open_id": testTTOpenID}))
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "granted", final.Query().Get("status"))
		r := te.authorization(t, te.Key, id)
		require.Equal(t, map[string]string{testTTOpenID: "tiktok:Acme Mugs"}, accountsOf(r))
		c := te.connectAuthorized(t, te.Key, id, testTTOpenID)
		require.Empty(t, c.Errors, "%+v", c.Errors)
		chID := dig(c.Data, "connectChannel", "id").(string)
		ch, err := te.App.Store.Ent.Channel.Get(tenant.NewContext(context.Background(), tenant.PlatformViewer("test")), pulid.ID(chID))
		require.NoError(t, err)
		creds, err := te.App.Channels.Credentials(ch)
		require.NoError(t, err)
		require.NotEmpty(t, creds.RefreshToken)
		// The token works: the customer's DM is answered with it.
		te.customer(t, ttsandbox.DM{CustomerID: "cust-oauth", Text: "hi"})
		conv := dig(te.gql(t, `{ conversations(first: 1) { edges { node { id } } } }`, nil), "conversations", "edges", 0, "node", "id")
		te.gql(t, `mutation($id: ID!) { sendReply(input: {conversationId: $id, text: "hello"}) { id } }`, map[string]any{"id": conv})
		te.waitJobs(t)
		data := te.gql(t, `{ messages(first: 10, where: {direction: OUTBOUND}) { edges { node { deliveryStatus errorMessage } } } }`, nil)
		require.Equal(t, "SENT", dig(data, "messages", "edges", 0, "node", "deliveryStatus"), "%v", data)
	})
}

// countAuthorizations counts authorizations holding a grant, and channels.
func (e *env) grantsAndChannels(t *testing.T) (grants, channels int) {
	t.Helper()
	require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM channel_authorizations WHERE "grant" IS NOT NULL`).Scan(&grants))
	require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM channels`).Scan(&channels))
	return grants, channels
}

// Every way a callback's state can be wrong is refused with a clear page
// and stores nothing; the platform's own error and a failed exchange are
// recorded on the authorization, with no grant; what a grant opens is the
// starting member's alone.
func TestOAuthStateAttacks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newMetaOAuthEnv(t, d, withConfig(func(c *config.Config) {
			c.Connectors = []string{"whatsapp", "meta", "google"}
			c.Environ = append(c.Environ, "NEKSIO_GOOGLE_CLIENT_ID=g", "NEKSIO_GOOGLE_CLIENT_SECRET=s")
		}))
		refused := func(t *testing.T, raw, reason string) {
			t.Helper()
			status, final, body := visit(t, raw)
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Contains(t, final.Path, "/callback", "no redirect to a result")
			require.Contains(t, body, reason)
			grants, channels := e.grantsAndChannels(t)
			require.Zero(t, grants)
			require.Zero(t, channels)
		}
		callbackWith := func(q url.Values) string { return e.URL + "/oauth/meta/callback?" + q.Encode() }

		// Missing state.
		refused(t, callbackWith(url.Values{"code": {"abc"}}), "missing_state")
		// Forged: a random state, and a real one with its signature changed.
		nonce := make([]byte, 32)
		_, _ = rand.Read(nonce)
		enc := base64.RawURLEncoding
		refused(t, callbackWith(url.Values{"code": {"abc"}, "state": {enc.EncodeToString(nonce) + "." + enc.EncodeToString(nonce)}}), "invalid_state")
		_, consentURL := e.startAuthorization(t, e.Key, "meta")
		cb, err := url.Parse(consent(t, consentURL, "allow", nil))
		require.NoError(t, err)
		q := cb.Query()
		state := q.Get("state")
		n, sig, _ := strings.Cut(state, ".")
		forged := []byte(sig)
		forged[3] ^= 1
		q.Set("state", n+"."+string(forged))
		refused(t, callbackWith(q), "invalid_state")
		// The state of connector A on connector B's callback.
		q.Set("state", state)
		status, _, body := visit(t, e.URL+"/oauth/google/callback?"+q.Encode())
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body, "wrong_connector")
		// Refused without being used up: on its own connector it works once.
		status, final, _ := visit(t, callbackWith(q))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "granted", final.Query().Get("status"))
		first := final.Query().Get("authorization")
		// Replayed.
		status, _, body = visit(t, callbackWith(q))
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body, "used_state")
		r := e.authorization(t, e.Key, first)
		require.Equal(t, "GRANTED", dig(r.Data, "channelAuthorization", "status"), "the replay changed nothing")
		var grantAudits int
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM audit_logs WHERE action = 'channel.authorization.grant'`).Scan(&grantAudits))
		require.Equal(t, 1, grantAudits, "one exchange")

		// Expired: ten minutes passed before the platform sent the browser back.
		id, consentURL := e.startAuthorization(t, e.Key, "meta")
		late := consent(t, consentURL, "allow", nil)
		_, err = e.App.Store.DB.Exec(`UPDATE channel_authorizations SET state_expires_at = $1 WHERE id = $2`, time.Now().Add(-time.Minute), id)
		require.NoError(t, err)
		status, _, body = visit(t, late)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body, "expired_state")
		r = e.authorization(t, e.Key, id)
		require.Equal(t, "EXPIRED", dig(r.Data, "channelAuthorization", "status"))
		require.Equal(t, "BAD_USER_INPUT", e.connectAuthorized(t, e.Key, id, testPageID).Code())

		// The person declines: the platform's error is recorded, nothing exchanged.
		id, consentURL = e.startAuthorization(t, e.Key, "meta")
		status, final, _ = visit(t, consent(t, consentURL, "deny", nil))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "failed", final.Query().Get("status"))
		require.Equal(t, "access_denied", final.Query().Get("error"))
		r = e.authorization(t, e.Key, id)
		require.Equal(t, "FAILED", dig(r.Data, "channelAuthorization", "status"))
		require.Equal(t, "access_denied", dig(r.Data, "channelAuthorization", "errorCode"))
		require.Contains(t, dig(r.Data, "channelAuthorization", "error"), "Permissions error")
		require.Empty(t, dig(r.Data, "channelAuthorization", "accounts"))

		// The code exchange fails (a code the platform never issued).
		id, consentURL = e.startAuthorization(t, e.Key, "meta")
		cb, err = url.Parse(consent(t, consentURL, "allow", nil))
		require.NoError(t, err)
		q = cb.Query()
		q.Set("code", "AQnot-a-code")
		status, final, _ = visit(t, callbackWith(q))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "failed", final.Query().Get("status"))
		r = e.authorization(t, e.Key, id)
		require.Equal(t, "FAILED", dig(r.Data, "channelAuthorization", "status"))
		require.Contains(t, dig(r.Data, "channelAuthorization", "error"), "the platform refused the code")
		require.Equal(t, "100/36009", dig(r.Data, "channelAuthorization", "errorCode"), "Meta's code for an unknown code")
		require.Equal(t, "BAD_USER_INPUT", e.connectAuthorized(t, e.Key, id, testPageID).Code())
		grants, channels := e.grantsAndChannels(t)
		require.Equal(t, 1, grants, "only the one granted authorization holds a grant")
		require.Zero(t, channels)

		// What the grant opens belongs to the member and the workspace that
		// started it: another admin of the workspace and a member of another
		// workspace do not see it and cannot connect from it.
		otherAdmin, _, err := e.App.Auth.CreateKeyForWorkspace(context.Background(), e.Workspace, "other admin", tenant.RoleAdmin)
		require.NoError(t, err)
		_, otherWS := e.newWorkspace(t, "Elsewhere")
		for _, key := range []string{otherAdmin, otherWS} {
			require.Equal(t, "NOT_FOUND", e.authorization(t, key, first).Code())
			require.Equal(t, "NOT_FOUND", e.connectAuthorized(t, key, first, testPageID).Code())
		}
		_, channels = e.grantsAndChannels(t)
		require.Zero(t, channels)
		// The starter can.
		require.Empty(t, e.connectAuthorized(t, e.Key, first, testPageID).Errors)

		// Starting: admins only, and only connectors that do OAuth.
		agent, _, err := e.App.Auth.CreateKeyForWorkspace(context.Background(), e.Workspace, "agent", tenant.RoleAgent)
		require.NoError(t, err)
		start := `mutation($c: String!) { startChannelAuthorization(connector: $c) { url } }`
		require.Equal(t, "FORBIDDEN", e.gqlAs(t, agent, start, map[string]any{"c": "meta"}).Code())
		r = e.gqlAs(t, e.Key, start, map[string]any{"c": "whatsapp"})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "does not connect accounts with OAuth")
		require.Equal(t, "BAD_USER_INPUT", e.gqlAs(t, e.Key, start, map[string]any{"c": "nope"}).Code())
		// connectChannel takes an authorization or credentials, not both.
		r = e.gqlAs(t, e.Key, connectByAuthorization, map[string]any{"in": map[string]any{"authorizationId": first,
			"externalId": testIGID, "credentials": map[string]any{"accessToken": "x"}}})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
	})
}

// NEKSIO_OAUTH_RETURN_URL sends the browser to the application's own
// page, with the authorization's id and outcome.
func TestOAuthReturnURL(t *testing.T) {
	t.Parallel()
	e := newMetaOAuthEnv(t, storetest.SQLite, withConfig(func(c *config.Config) {
		c.OAuthReturnURL = "https://app.example.com/channels/connected?tab=new"
	}))
	id, consentURL := e.startAuthorization(t, e.Key, "meta")
	resp, err := noFollow.Get(consent(t, consentURL, "allow", nil))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	require.Equal(t, "app.example.com", loc.Host)
	require.Equal(t, "/channels/connected", loc.Path)
	require.Equal(t, url.Values{"tab": {"new"}, "authorization": {id}, "status": {"granted"}}, loc.Query())
}
