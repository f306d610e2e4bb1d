package tiktok_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

const redirectURI = "https://neksio.example/oauth/tiktok/callback"

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	a := sdktest.Connect(t, tiktok.New()).(sdk.Authorizer)
	ctx := background(t)

	res, err := a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: testApp(), RedirectURI: redirectURI, State: "st-1"})
	require.NoError(t, err)
	u, err := url.Parse(res.URL)
	require.NoError(t, err)
	require.Equal(t, "https://www.tiktok.com/v2/auth/authorize/", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, url.Values{
		"client_key": {clientKey}, "scope": {"user.info.basic,video.publish"}, "response_type": {"code"},
		"redirect_uri": {redirectURI}, "state": {"st-1"},
	}, u.Query())

	app := sdk.App{ClientID: "from-client-id", Settings: map[string]string{tiktok.SettingAuthURL: "https://sandbox.example/v2/auth/authorize/?lang=en"}}
	res, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: app, RedirectURI: redirectURI, State: "st-2", Scopes: []string{"user.info.basic", "video.list"}})
	require.NoError(t, err)
	u, err = url.Parse(res.URL)
	require.NoError(t, err)
	require.Equal(t, "sandbox.example", u.Host)
	require.Equal(t, "en", u.Query().Get("lang"))
	require.Equal(t, "from-client-id", u.Query().Get("client_key"))
	require.Equal(t, "user.info.basic,video.list", u.Query().Get("scope"))

	_, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: sdk.App{}, RedirectURI: redirectURI})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: testApp()})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: sdk.App{Settings: map[string]string{tiktok.SettingClientKey: "k", tiktok.SettingAuthURL: "not a url"}}, RedirectURI: redirectURI})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

// consent goes through the emulator's consent page as a person would and
// answers the query TikTok redirects back with.
func (b *bundle) consent(t *testing.T, decision string) url.Values {
	t.Helper()
	a := b.conn.(sdk.Authorizer)
	res, err := a.AuthorizeURL(background(t), &sdk.AuthorizeRequest{App: b.app, RedirectURI: redirectURI, State: "state-42"})
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := client.Get(res.URL)
	require.NoError(t, err)
	html, err := io.ReadAll(page.Body)
	require.NoError(t, err)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode, "%s", html)
	require.Contains(t, string(html), business)
	u, err := url.Parse(res.URL)
	require.NoError(t, err)
	form := url.Values{"client_key": {u.Query().Get("client_key")}, "redirect_uri": {redirectURI}, "state": {"state-42"},
		"scope": {u.Query().Get("scope")}, "open_id": {business}, "decision": {decision}}
	resp, err := client.PostForm(res.URL, form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(back.String(), redirectURI+"?"), back.String())
	require.Equal(t, "state-42", back.Query().Get("state"))
	return back.Query()
}

func TestExchangeCode(t *testing.T) {
	t.Parallel()

	t.Run("the consent page's code opens the account", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := background(t)
		q := b.consent(t, "allow")
		grant, err := b.conn.(sdk.Authorizer).ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: q.Get("code"), Query: q})
		require.NoError(t, err)
		c := grant.Credentials
		require.True(t, strings.HasPrefix(c.AccessToken, "act."))
		require.True(t, strings.HasPrefix(c.RefreshToken, "rft."))
		require.Equal(t, []string{"user.info.basic", "video.publish"}, c.Scopes)
		require.Equal(t, b.now.Add(30*24*time.Hour), c.ExpiresAt.UTC())
		require.Equal(t, business, c.Extra[tiktok.ExtraOpenID])
		require.Equal(t, b.now.Add(365*24*time.Hour).Format(time.RFC3339), c.Extra[tiktok.ExtraRefreshExpiresAt])
		require.Equal(t, []sdk.GrantedAccount{{AccountID: business, Name: "Lisbon Coffee", Platform: tiktok.Platform,
			Extra: map[string]string{"union_id": "union-1", "avatar_url": "https://p16.tiktokcdn.example/avatar.jpeg"}}}, grant.Accounts)

		info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: c, AccountID: business})
		require.NoError(t, err)
		require.Equal(t, business, info.AccountID)

		// A code is good once.
		_, err = b.conn.(sdk.Authorizer).ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: q.Get("code")})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "invalid_grant")
	})

	t.Run("a refusal on the consent page", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		q := b.consent(t, "deny")
		require.Empty(t, q.Get("code"))
		_, err := b.conn.(sdk.Authorizer).ExchangeCode(background(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Query: q})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "denied")
		require.Zero(t, b.sb.Requests())
	})

	t.Run("another redirect URI", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code := b.sb.AuthorizationCode(business, redirectURI)
		_, err := b.conn.(sdk.Authorizer).ExchangeCode(background(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI + "/x", Code: code})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	})

	t.Run("a wrong client secret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.app.ClientSecret = "wrong"
		_, err := b.conn.(sdk.Authorizer).ExchangeCode(background(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI,
			Code: b.sb.AuthorizationCode(business, redirectURI)})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "invalid_client")
	})

	t.Run("no client key configured", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		delete(b.app.Settings, tiktok.SettingClientKey)
		_, err := b.conn.(sdk.Authorizer).ExchangeCode(background(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: "c"})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Zero(t, b.sb.Requests())
	})
}

func (b *bundle) refresh(t *testing.T, c sdk.Credentials) (*sdk.Credentials, error) {
	t.Helper()
	return b.conn.RefreshCredentials(background(t), &sdk.CredentialsRequest{App: b.app, Credentials: c, AccountID: business})
}

func TestRefreshCredentials(t *testing.T) {
	t.Parallel()

	t.Run("rotates the refresh token; the old one stops working", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		old := b.creds()
		old.Extra = map[string]string{"kept": "yes"}
		b.clock.advance(time.Hour)
		next, err := b.refresh(t, old)
		require.NoError(t, err)
		require.NotEqual(t, old.AccessToken, next.AccessToken)
		require.NotEqual(t, old.RefreshToken, next.RefreshToken, "TikTok rotates refresh tokens: keep the newest")
		require.Equal(t, b.now.Add(time.Hour+30*24*time.Hour), next.ExpiresAt.UTC())
		require.Equal(t, "yes", next.Extra["kept"])
		require.Equal(t, business, next.Extra[tiktok.ExtraOpenID])
		require.Equal(t, sandbox.AllScopes, next.Scopes)

		_, err = b.refresh(t, old)
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
		require.Contains(t, err.Error(), "invalid_grant")

		newer, err := b.refresh(t, *next)
		require.NoError(t, err)
		_, err = b.conn.ValidateCredentials(background(t), &sdk.CredentialsRequest{App: b.app, Credentials: *newer, AccountID: business})
		require.NoError(t, err)
	})

	t.Run("with a grace period the old token works until the new one is used", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.WithRefreshGrace())
		r0 := b.creds()
		r1, err := b.refresh(t, r0)
		require.NoError(t, err)
		// The host crashed before storing r1: it still has r0.
		r1again, err := b.refresh(t, r0)
		require.NoError(t, err)
		r2, err := b.refresh(t, *r1again)
		require.NoError(t, err)
		_, err = b.refresh(t, r0)
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
		require.NotEqual(t, r1.RefreshToken, r2.RefreshToken)
	})

	t.Run("a removed authorization refuses the refresh", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.Deauthorize(business, 1)
		_, err := b.refresh(t, b.creds())
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	})

	t.Run("an expired refresh token is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.clock.advance(366 * 24 * time.Hour)
		_, err := b.refresh(t, b.creds())
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	})

	t.Run("no refresh token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.creds()
		c.RefreshToken = ""
		_, err := b.refresh(t, c)
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
		require.Zero(t, b.sb.Requests())
	})

	t.Run("a platform failure is retried later", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.FailNext(1, sandbox.Failure{API: "open", HTTPStatus: 503, Code: "temporarily_unavailable", RetryAfter: 30 * time.Second})
		_, err := b.refresh(t, b.creds())
		sdktest.RequireClass(t, sdk.ClassRetryable, err)
		var e *sdk.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 30*time.Second, e.RetryAfter)
		_, err = b.refresh(t, b.creds())
		require.NoError(t, err, "the failed call consumed nothing")
	})
}

// TestTokenEndpointShapes covers answers the emulator does not give: an
// error inside a 200, and a refresh that keeps the refresh token.
func TestTokenEndpointShapes(t *testing.T) {
	t.Parallel()
	var answer string
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	conn := tiktok.New(tiktok.WithHTTPClient(srv.Client()))
	req := &sdk.CredentialsRequest{App: sdk.App{APIBaseURL: srv.URL, ClientSecret: clientSecret, Settings: map[string]string{tiktok.SettingClientKey: clientKey}},
		Credentials: sdk.Credentials{AccessToken: "a0", RefreshToken: "r0", Scopes: []string{"video.publish"}}, AccountID: business}

	answer, status = `{"error":"invalid_grant","error_description":"Refresh token is expired.","log_id":"L1"}`, 200
	_, err := conn.RefreshCredentials(background(t), req)
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	require.Contains(t, err.Error(), "L1")

	answer, status = `{"access_token":"a1","expires_in":86400,"open_id":"`+business+`","token_type":"Bearer"}`, 200
	c, err := conn.RefreshCredentials(background(t), req)
	require.NoError(t, err)
	require.Equal(t, "a1", c.AccessToken)
	require.Equal(t, "r0", c.RefreshToken, "no new refresh token: keep the one we have")
	require.Equal(t, []string{"video.publish"}, c.Scopes)

	answer, status = `{"access_token":"a1","open_id":"someone-else"}`, 200
	_, err = conn.RefreshCredentials(background(t), req)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)

	answer, status = `<html>bad gateway</html>`, 502
	_, err = conn.RefreshCredentials(background(t), req)
	sdktest.RequireClass(t, sdk.ClassRetryable, err)

	answer, status = `{"error":{"code":"access_token_invalid","message":"gone","log_id":"L2"}}`, 401
	require.NoError(t, conn.Revoke(background(t), req), "an already invalid token counts as revoked")
}

func TestValidateCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := background(t)
	c := b.creds()
	c.ExpiresAt = b.now.Add(time.Hour)
	info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: c, AccountID: business})
	require.NoError(t, err)
	require.Equal(t, &sdk.AccountInfo{AccountID: business, Name: "Lisbon Coffee", Platform: tiktok.Platform, Scopes: c.Scopes, ExpiresAt: c.ExpiresAt}, info)

	_, err = b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: c, AccountID: "someone-else"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "open_id")

	_, err = b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: "act.bogus"}})
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	_, err = b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app})
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	hooks := make(chan []byte, 1)
	b := setup(t, sandbox.WithWebhookSink(func(body []byte) { hooks <- body }))
	ctx := background(t)
	req := &sdk.CredentialsRequest{App: b.app, Credentials: b.creds(), AccountID: business}
	require.NoError(t, b.conn.Revoke(ctx, req))
	_, err := b.conn.ValidateCredentials(ctx, req)
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	_, err = b.refresh(t, b.creds())
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	require.NoError(t, b.conn.Revoke(ctx, req), "revoking twice is fine")

	// TikTok says so with authorization.removed, reason 5.
	body := <-hooks
	r := signedAt(body, time.Now())
	r.ReceivedAt = time.Now()
	res, err := b.conn.HandleWebhook(ctx, r)
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	require.Equal(t, sdk.EventAccount, res.Events[0].Kind)
	require.Equal(t, business, res.Events[0].AccountID)
	require.Equal(t, "5", res.Events[0].Account.Detail["reason"])

	req.App.ClientSecret = ""
	sdktest.RequireClass(t, sdk.ClassPermanent, b.conn.Revoke(ctx, req))
}
