package meta_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

const (
	appID       = "1234567890"
	redirectURI = "https://neksio.example/oauth/meta/callback"
	page2ID     = "333333333333333"
)

type oauthBundle struct {
	sb   *sandbox.Server
	srv  *httptest.Server
	conn sdk.Connector
	app  sdk.App
}

// oauthSetup serves an emulator with a user who manages two Pages, the
// first linked to an Instagram account, and the connector through gRPC.
func oauthSetup(t *testing.T) *oauthBundle {
	t.Helper()
	sb := sandbox.New(sandbox.WithAppSecret(appSecret), sandbox.WithAppID(appID))
	sb.AddPage(pageID, "Cafe", pageToken)
	sb.AddPage(page2ID, "Cafe Annex", "annex-token")
	sb.AddInstagramAccount(igID, "cafe", igToken)
	sb.LinkInstagram(pageID, igID)
	sb.AddUser("u-1", "Ada Owner", pageID, page2ID)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &oauthBundle{sb: sb, srv: srv,
		conn: sdktest.Connect(t, meta.New(meta.WithHTTPClient(srv.Client()))),
		app: sdk.App{APIBaseURL: srv.URL + "/v21.0", ClientSecret: appSecret, Settings: map[string]string{
			meta.SettingAppID: appID, meta.SettingAuthURL: srv.URL + "/v21.0/dialog/oauth", meta.SettingAllowPrivateMedia: "true"}},
	}
}

// consent plays the person in the browser: open the consent page, submit
// its form with decision, and return where Facebook redirects.
func (b *oauthBundle) consent(t *testing.T, authURL, decision string) *url.URL {
	t.Helper()
	resp, err := http.Get(authURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	require.Contains(t, string(page), `name="decision"`)
	require.Contains(t, string(page), "Ada Owner")

	u, err := url.Parse(authURL)
	require.NoError(t, err)
	q := u.Query()
	form := url.Values{"client_id": {q.Get("client_id")}, "redirect_uri": {q.Get("redirect_uri")}, "state": {q.Get("state")},
		"granted_scopes": {q.Get("scope")}, "user": {"u-1"}, "decision": {decision}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(authURL, form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return back
}

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	b := oauthSetup(t)
	ctx := context.Background()
	a := b.conn.(sdk.Authorizer)
	res, err := a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: b.app, RedirectURI: redirectURI, State: "st-1"})
	require.NoError(t, err)
	u, err := url.Parse(res.URL)
	require.NoError(t, err)
	require.Equal(t, b.srv.URL+"/v21.0/dialog/oauth", u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	require.Equal(t, appID, q.Get("client_id"))
	require.Equal(t, redirectURI, q.Get("redirect_uri"))
	require.Equal(t, "st-1", q.Get("state"))
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, strings.Join(meta.DefaultScopes, ","), q.Get("scope"))

	// The default dialog is Facebook's; the app id falls back to ClientID.
	res, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: sdk.App{ClientID: "42"}, RedirectURI: redirectURI, State: "s", Scopes: []string{"pages_messaging"}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.URL, meta.DefaultAuthURL+"?"), res.URL)
	require.Contains(t, res.URL, "client_id=42")
	require.Contains(t, res.URL, "scope=pages_messaging")

	_, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: sdk.App{}, RedirectURI: redirectURI})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "NEKSIO_META_APP_ID")
	_, err = a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: b.app, RedirectURI: "/relative"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

// The whole flow against the emulator: consent, code, long-lived token,
// Pages with their tokens and the linked Instagram account, then each
// account's webhook subscription and a DM through the granted token.
func TestExchangeCodeGrantsPagesAndInstagram(t *testing.T) {
	t.Parallel()
	b := oauthSetup(t)
	ctx := context.Background()
	a := b.conn.(sdk.Authorizer)
	res, err := a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: b.app, RedirectURI: redirectURI, State: "st-2"})
	require.NoError(t, err)
	back := b.consent(t, res.URL, "allow")
	require.Equal(t, "st-2", back.Query().Get("state"))
	code := back.Query().Get("code")
	require.NotEmpty(t, code)

	grant, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Query: back.Query()})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(grant.Credentials.AccessToken, "EAAlong"), "the grant keeps the long-lived token")
	require.WithinDuration(t, time.Now().Add(sandbox.LongLivedUserTTL), grant.Credentials.ExpiresAt, time.Minute)
	require.ElementsMatch(t, meta.DefaultScopes, grant.Credentials.Scopes)

	require.Len(t, grant.Accounts, 3)
	byID := map[string]sdk.GrantedAccount{}
	for _, acc := range grant.Accounts {
		byID[acc.AccountID] = acc
		require.NotNil(t, acc.Credentials, acc.AccountID)
	}
	fb := byID[pageID]
	require.Equal(t, meta.PlatformFacebook, fb.Platform)
	require.Equal(t, "Cafe", fb.Name)
	require.Equal(t, sandbox.DefaultPageCategory, fb.Extra[meta.ExtraCategory])
	require.Equal(t, meta.PlatformFacebook, fb.Credentials.Extra[meta.ExtraPlatform])
	ig := byID[igID]
	require.Equal(t, meta.PlatformInstagram, ig.Platform)
	require.Equal(t, "cafe", ig.Name)
	require.Equal(t, pageID, ig.Extra[meta.ExtraPageID])
	require.Equal(t, fb.Credentials.AccessToken, ig.Credentials.AccessToken, "an Instagram account uses its Page's token")
	require.Equal(t, map[string]string{meta.ExtraPlatform: meta.PlatformInstagram, meta.ExtraPageID: pageID}, ig.Credentials.Extra)
	require.Equal(t, meta.PlatformFacebook, byID[page2ID].Platform)

	// The granted tokens work: validate, subscribe, send.
	info, err := b.conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: *ig.Credentials, AccountID: igID})
	require.NoError(t, err)
	require.Equal(t, meta.PlatformInstagram, info.Platform)

	sub := b.conn.(sdk.WebhookSubscriber)
	require.NoError(t, sub.SubscribeWebhooks(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: *fb.Credentials, AccountID: pageID}))
	require.Contains(t, b.sb.Subscriptions(pageID), "messages")
	require.Contains(t, b.sb.Subscriptions(pageID), "feed")
	require.Empty(t, b.sb.Subscriptions(page2ID))
	// The Instagram account subscribes through its Page.
	require.NoError(t, sub.SubscribeWebhooks(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: *ig.Credentials, AccountID: igID}))
	require.Empty(t, b.sb.Subscriptions(igID))
	require.NoError(t, sub.SubscribeWebhooks(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: *byID[page2ID].Credentials, AccountID: page2ID}))
	require.Contains(t, b.sb.Subscriptions(page2ID), "messages")

	// An Instagram DM goes through the Page's Send API with its token.
	b.sb.Observe(sandbox.InstagramDM(igID, igsid, "hi"))
	_, err = b.conn.Send(ctx, &sdk.SendRequest{App: b.app, Credentials: *ig.Credentials, AccountID: igID, Kind: sdk.SendDirect, RecipientID: igsid, Text: "hello"})
	require.NoError(t, err)
	sent := b.sb.SentMessages()
	require.Len(t, sent, 1)
	require.Equal(t, igID, sent[0].AccountID)
	require.Equal(t, igsid, sent[0].RecipientID)

	// A code works once.
	_, err = a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: code})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "has been used")
}

func TestExchangeCodeRefusals(t *testing.T) {
	t.Parallel()
	b := oauthSetup(t)
	ctx := context.Background()
	a := b.conn.(sdk.Authorizer)
	res, err := a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: b.app, RedirectURI: redirectURI, State: "st-3"})
	require.NoError(t, err)

	t.Run("the person cancels", func(t *testing.T) {
		back := b.consent(t, res.URL, "deny")
		q := back.Query()
		require.Equal(t, "access_denied", q.Get("error"))
		require.Equal(t, "user_denied", q.Get("error_reason"))
		require.Equal(t, "st-3", q.Get("state"))
		require.Empty(t, q.Get("code"))
		_, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Query: q})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, "user_denied", err.(*sdk.Error).Code)
		require.Contains(t, err.Error(), "Permissions error")
	})
	t.Run("no code", func(t *testing.T) {
		_, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "no authorization code")
	})
	t.Run("another redirect URI", func(t *testing.T) {
		back := b.consent(t, res.URL, "allow")
		_, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: "https://elsewhere.example/cb", Query: back.Query()})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "redirect_uri")
	})
	t.Run("a wrong app secret is permanent, not retried", func(t *testing.T) {
		back := b.consent(t, res.URL, "allow")
		app := b.app
		app.ClientSecret = "not-the-secret"
		_, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: app, RedirectURI: redirectURI, Query: back.Query()})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "client secret")
	})
	t.Run("no app configured", func(t *testing.T) {
		_, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: sdk.App{}, RedirectURI: redirectURI, Code: "c"})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "NEKSIO_META_APP_SECRET")
	})
}

// me/accounts is paged: every Page of a person with many is granted.
func TestExchangeCodeReadsEveryPage(t *testing.T) {
	t.Parallel()
	b := oauthSetup(t)
	var ids []string
	for i := range 130 {
		id := "9" + strings.Repeat("0", 10) + time.Duration(i).String()
		b.sb.AddPage(id, "Branch", "tok-"+id)
		ids = append(ids, id)
	}
	b.sb.AddUser("u-1", "Ada Owner", ids...)
	ctx := context.Background()
	a := b.conn.(sdk.Authorizer)
	res, err := a.AuthorizeURL(ctx, &sdk.AuthorizeRequest{App: b.app, RedirectURI: redirectURI, State: "s"})
	require.NoError(t, err)
	grant, err := a.ExchangeCode(ctx, &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Query: b.consent(t, res.URL, "allow").Query()})
	require.NoError(t, err)
	require.Len(t, grant.Accounts, 130)
}
