package google_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func (b *bundle) authorizer() sdk.Authorizer { return b.conn.(sdk.Authorizer) }

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app
	app.APIBaseURL = "" // Google's own consent page
	res, err := b.authorizer().AuthorizeURL(ctx(t), &sdk.AuthorizeRequest{App: app, RedirectURI: redirectURI, State: "st-123"})
	require.NoError(t, err)
	u, err := url.Parse(res.URL)
	require.NoError(t, err)
	require.Equal(t, "https://accounts.google.com/o/oauth2/v2/auth", u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	require.Equal(t, clientID, q.Get("client_id"))
	require.Equal(t, redirectURI, q.Get("redirect_uri"))
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, google.Scope, q.Get("scope"))
	require.Equal(t, "offline", q.Get("access_type"))
	require.Equal(t, "consent", q.Get("prompt"))
	require.Equal(t, "st-123", q.Get("state"))

	app.Settings = map[string]string{google.SettingAuthURL: "https://auth.example.com/consent"}
	res, err = b.authorizer().AuthorizeURL(ctx(t), &sdk.AuthorizeRequest{App: app, RedirectURI: redirectURI, State: "s", Scopes: []string{"a", "b"}})
	require.NoError(t, err)
	u, _ = url.Parse(res.URL)
	require.Equal(t, "auth.example.com", u.Host)
	require.Equal(t, "a b", u.Query().Get("scope"))

	_, err = b.authorizer().AuthorizeURL(ctx(t), &sdk.AuthorizeRequest{App: sdk.App{}, RedirectURI: redirectURI, State: "s"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = b.authorizer().AuthorizeURL(ctx(t), &sdk.AuthorizeRequest{App: b.app, RedirectURI: "/relative", State: "s"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

// consent runs the whole browser leg: the consent URL, the person's
// answer, and the redirect back.
func (b *bundle) consent(t *testing.T, allow bool) url.Values {
	t.Helper()
	res, err := b.authorizer().AuthorizeURL(ctx(t), &sdk.AuthorizeRequest{App: b.app, RedirectURI: redirectURI, State: "st-9"})
	require.NoError(t, err)
	back, err := b.sb.Authorize(res.URL, allow)
	require.NoError(t, err)
	u, err := url.Parse(back)
	require.NoError(t, err)
	require.Equal(t, redirectURI, u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, "st-9", u.Query().Get("state"))
	return u.Query()
}

func TestExchangeCodeListsLocations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sb.AddAccount("3", "Bakeries")
	b.sb.AddLocation("3", "4", "Bakery North")
	b.sb.AddLocation("3", "5", "Bakery South")
	b.sb.AddLocation("6", "2", "Cafe Central again") // the same location, reached through another account

	q := b.consent(t, true)
	grant, err := b.authorizer().ExchangeCode(ctx(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: q.Get("code"), Query: q})
	require.NoError(t, err)
	require.NotEmpty(t, grant.Credentials.AccessToken)
	require.NotEmpty(t, grant.Credentials.RefreshToken, "offline access")
	require.True(t, grant.Credentials.ExpiresAt.After(time.Now()))
	require.Equal(t, []string{google.Scope}, grant.Credentials.Scopes)

	var got []string
	for _, a := range grant.Accounts {
		require.Equal(t, google.Platform, a.Platform)
		require.Nil(t, a.Credentials, "the grant's credentials serve every location")
		got = append(got, a.AccountID+" "+a.Name)
	}
	require.Equal(t, []string{
		"accounts/1/locations/2 Cafe Central",
		"accounts/3/locations/4 Bakery North",
		"accounts/3/locations/5 Bakery South",
	}, got)
	require.Equal(t, "Bakeries", grant.Accounts[1].Extra["account_name"])

	// The grant's tokens work: a connected location validates.
	info, err := b.conn.ValidateCredentials(ctx(t), &sdk.CredentialsRequest{App: b.app, Credentials: grant.Credentials, AccountID: grant.Accounts[2].AccountID})
	require.NoError(t, err)
	require.Equal(t, "Bakery South", info.Name)

	// A code is single use.
	_, err = b.authorizer().ExchangeCode(ctx(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: q.Get("code")})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

func TestExchangeCodePagesAccounts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 45 {
		b.sb.AddLocation(fmt.Sprintf("a%02d", i), fmt.Sprintf("l%02d", i), fmt.Sprintf("Shop %d", i))
	}
	q := b.consent(t, true)
	grant, err := b.authorizer().ExchangeCode(ctx(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: q.Get("code")})
	require.NoError(t, err)
	require.Len(t, grant.Accounts, 46, "45 accounts of 20 a page, and the first one")
}

func TestExchangeCodeRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q := b.consent(t, false)
	require.Equal(t, "access_denied", q.Get("error"))
	_, err := b.authorizer().ExchangeCode(ctx(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Query: q})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "access_denied")

	_, err = b.authorizer().ExchangeCode(ctx(t), &sdk.ExchangeRequest{App: b.app, RedirectURI: redirectURI, Code: "4/forged"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)

	q = b.consent(t, true)
	app := b.app
	app.ClientSecret = "wrong"
	_, err = b.authorizer().ExchangeCode(ctx(t), &sdk.ExchangeRequest{App: app, RedirectURI: redirectURI, Code: q.Get("code")})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "NEKSIO_GOOGLE_CLIENT_ID")
}

func (b *bundle) credsRequest() *sdk.CredentialsRequest {
	return &sdk.CredentialsRequest{App: b.app, Credentials: b.creds, AccountID: location}
}

func TestRefreshCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.creds.Scopes = []string{google.Scope}
	next, err := b.conn.RefreshCredentials(ctx(t), b.credsRequest())
	require.NoError(t, err)
	require.NotEmpty(t, next.AccessToken)
	require.NotEqual(t, b.creds.AccessToken, next.AccessToken, "a new access token")
	require.Equal(t, b.creds.RefreshToken, next.RefreshToken, "Google keeps the refresh token")
	require.WithinDuration(t, time.Now().Add(sandbox.AccessTokenTTL), next.ExpiresAt, 5*time.Minute)

	// The new token opens the API.
	b.creds = *next
	require.NotNil(t, b.sync(t, &sdk.SyncRequest{}))
}

func TestRefreshRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.True(t, b.sb.RevokeRefreshToken(b.creds.RefreshToken))
	_, err := b.conn.RefreshCredentials(ctx(t), b.credsRequest())
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	require.Equal(t, "invalid_grant", errOf(t, err).Code)

	req := b.credsRequest()
	req.Credentials.RefreshToken = ""
	_, err = b.conn.RefreshCredentials(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)

	req = b.credsRequest()
	req.App.ClientSecret = "wrong"
	_, err = b.conn.RefreshCredentials(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)

	req = b.credsRequest()
	req.App.ClientID = ""
	_, err = b.conn.RefreshCredentials(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

func TestRefreshRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sb.FailNext(1, http.StatusServiceUnavailable, 0)
	_, err := b.conn.RefreshCredentials(ctx(t), b.credsRequest())
	sdktest.RequireClass(t, sdk.ClassRetryable, err)

	b.sb.FailNext(1, http.StatusTooManyRequests, 9*time.Second)
	_, err = b.conn.RefreshCredentials(ctx(t), b.credsRequest())
	sdktest.RequireClass(t, sdk.ClassRetryable, err)
	require.Equal(t, 9*time.Second, errOf(t, err).RetryAfter)

	_, err = b.conn.RefreshCredentials(ctx(t), b.credsRequest())
	require.NoError(t, err)
}

func TestValidateCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	info, err := b.conn.ValidateCredentials(ctx(t), b.credsRequest())
	require.NoError(t, err)
	require.Equal(t, &sdk.AccountInfo{AccountID: location, Name: "Cafe Central", Platform: google.Platform, ExpiresAt: b.creds.ExpiresAt}, info)

	for name, account := range map[string]string{
		"no location":      "",
		"bare location":    "locations/2",
		"unknown location": "accounts/1/locations/404",
		"path walking":     "accounts/1/locations/..",
	} {
		req := b.credsRequest()
		req.AccountID = account
		_, err := b.conn.ValidateCredentials(ctx(t), req)
		require.Equal(t, sdk.ClassPermanent, sdk.ClassOf(err), "%s: %v", name, err)
	}

	// A token whose grant does not cover the location's account.
	b.sb.AddLocation("7", "8", "Not yours")
	restricted := b.sb.Grant(accountID)
	_, err = b.conn.ValidateCredentials(ctx(t), &sdk.CredentialsRequest{App: b.app,
		Credentials: sdk.Credentials{AccessToken: restricted.AccessToken}, AccountID: "accounts/7/locations/8"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "permission denied")

	req := b.credsRequest()
	req.Credentials = sdk.Credentials{AccessToken: "ya29.forged"}
	_, err = b.conn.ValidateCredentials(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.conn.Revoke(ctx(t), b.credsRequest()))
	_, err := b.conn.RefreshCredentials(ctx(t), b.credsRequest())
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	_, err = b.conn.ValidateCredentials(ctx(t), b.credsRequest())
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)

	// Revoking again: Google says invalid_token, which is done.
	require.NoError(t, b.conn.Revoke(ctx(t), b.credsRequest()))

	fresh := setup(t)
	fresh.sb.FailNext(1, http.StatusServiceUnavailable, 0)
	sdktest.RequireClass(t, sdk.ClassRetryable, fresh.conn.Revoke(ctx(t), fresh.credsRequest()))
	require.NoError(t, fresh.conn.Revoke(ctx(t), fresh.credsRequest()))

	require.NoError(t, b.conn.Revoke(ctx(t), &sdk.CredentialsRequest{App: b.app}), "nothing to revoke")
}
