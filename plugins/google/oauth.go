package google

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/neksio/neksio/plugins/sdk"
)

// maxListPages bounds the account and location listings of a grant.
const maxListPages = 50

// AuthorizeURL builds Google's consent URL: the business.manage scope,
// offline access (a refresh token) and prompt=consent, so a person who
// consented before still gets a refresh token.
func (c *connector) AuthorizeURL(_ context.Context, req *sdk.AuthorizeRequest) (*sdk.AuthorizeResponse, error) {
	if req.App.ClientID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no OAuth client id configured (NEKSIO_GOOGLE_CLIENT_ID)")
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return nil, err
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = []string{Scope}
	}
	u := oauthConfig(req.App, req.RedirectURI, scopes).AuthCodeURL(req.State, oauth2.AccessTypeOffline, oauth2.ApprovalForce)
	return &sdk.AuthorizeResponse{URL: u}, nil
}

func checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sdk.NewError(sdk.ClassPermanent, "", "redirect URI %q is not an absolute http(s) URL", raw)
	}
	return nil
}

// ExchangeCode trades the code for tokens, then lists every location the
// person manages: one GrantedAccount per location, served by the grant's
// credentials.
func (c *connector) ExchangeCode(ctx context.Context, req *sdk.ExchangeRequest) (*sdk.Grant, error) {
	if e := firstValue(req.Query, "error"); e != "" {
		return nil, sdk.NewError(sdk.ClassPermanent, e, "Google did not grant access: %s", e)
	}
	code := cmp.Or(req.Code, firstValue(req.Query, "code"))
	if code == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no authorization code")
	}
	if req.App.ClientID == "" || req.App.ClientSecret == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no OAuth client configured (NEKSIO_GOOGLE_CLIENT_ID and NEKSIO_GOOGLE_CLIENT_SECRET)")
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return nil, err
	}
	tok, err := oauthConfig(req.App, req.RedirectURI, nil).Exchange(c.oauthContext(ctx), code)
	if err != nil {
		return nil, classifyOAuth("exchange code", err, false, c.now())
	}
	if tok.RefreshToken == "" {
		// Access tokens last an hour: without a refresh token the channel
		// would die then.
		return nil, sdk.NewError(sdk.ClassPermanent, "", "Google returned no refresh token: the consent must ask for offline access (access_type=offline, prompt=consent)")
	}
	creds := sdk.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, ExpiresAt: tok.Expiry, Scopes: scopesOf(tok)}
	accounts, err := c.grantedLocations(ctx, req.App, creds)
	if err != nil {
		return nil, err
	}
	return &sdk.Grant{Credentials: creds, Accounts: accounts}, nil
}

func firstValue(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func scopesOf(tok *oauth2.Token) []string {
	s, _ := tok.Extra("scope").(string)
	return strings.Fields(s)
}

type accountsPage struct {
	Accounts []struct {
		Name        string `json:"name"`
		AccountName string `json:"accountName"`
	} `json:"accounts"`
	NextPageToken string `json:"nextPageToken"`
}

type locationsPage struct {
	Locations []struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	} `json:"locations"`
	NextPageToken string `json:"nextPageToken"`
}

// grantedLocations lists the accounts (Account Management API), then each
// account's locations (Business Information API). A location reachable
// through several accounts (a personal account and a location group) is
// listed once, under the first account.
func (c *connector) grantedLocations(ctx context.Context, app sdk.App, creds sdk.Credentials) ([]sdk.GrantedAccount, error) {
	e := endpointsFor(app)
	var out []sdk.GrantedAccount
	seen := map[string]bool{}
	pageToken := ""
	for range maxListPages {
		q := url.Values{"pageSize": {"20"}}
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		var accts accountsPage
		if err := c.call(ctx, app, creds, "list accounts", http.MethodGet, e.accounts+"/accounts?"+q.Encode(), nil, &accts); err != nil {
			return nil, err
		}
		for _, a := range accts.Accounts {
			p := strings.Split(a.Name, "/")
			if len(p) != 2 || p[0] != "accounts" || !idPattern.MatchString(p[1]) {
				continue
			}
			locs, err := c.accountLocations(ctx, app, creds, a.Name)
			if err != nil {
				return nil, err
			}
			for _, l := range locs {
				id := strings.TrimPrefix(l.name, "locations/")
				if !idPattern.MatchString(id) || seen[id] {
					continue
				}
				seen[id] = true
				out = append(out, sdk.GrantedAccount{
					AccountID: a.Name + "/locations/" + id,
					Name:      cmp.Or(l.title, l.name),
					Platform:  Platform,
					Extra:     map[string]string{"account": a.Name, "account_name": a.AccountName},
				})
			}
		}
		if pageToken = accts.NextPageToken; pageToken == "" {
			return out, nil
		}
	}
	return out, nil
}

type grantedLocation struct{ name, title string }

func (c *connector) accountLocations(ctx context.Context, app sdk.App, creds sdk.Credentials, account string) ([]grantedLocation, error) {
	e := endpointsFor(app)
	var out []grantedLocation
	pageToken := ""
	for range maxListPages {
		q := url.Values{"readMask": {"name,title"}, "pageSize": {"100"}}
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		var page locationsPage
		if err := c.call(ctx, app, creds, "list locations of "+account, http.MethodGet, e.info+"/"+account+"/locations?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for _, l := range page.Locations {
			out = append(out, grantedLocation{l.Name, l.Title})
		}
		if pageToken = page.NextPageToken; pageToken == "" {
			break
		}
	}
	return out, nil
}

// RefreshCredentials trades the refresh token for a new access token.
// Google keeps the refresh token (it rarely rotates one); a refused
// refresh (invalid_grant) is auth_revoked: the channel needs reconnecting.
func (c *connector) RefreshCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	if req.Credentials.RefreshToken == "" {
		return nil, sdk.NewError(sdk.ClassAuthRevoked, "", "no refresh token: reconnect the channel")
	}
	if req.App.ClientID == "" || req.App.ClientSecret == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no OAuth client configured to refresh tokens (NEKSIO_GOOGLE_CLIENT_ID and NEKSIO_GOOGLE_CLIENT_SECRET)")
	}
	tok, err := c.refresh(ctx, req.App, req.Credentials.RefreshToken)
	if err != nil {
		return nil, err
	}
	out := &sdk.Credentials{
		AccessToken:  tok.AccessToken,
		RefreshToken: cmp.Or(tok.RefreshToken, req.Credentials.RefreshToken),
		ExpiresAt:    tok.Expiry,
		Scopes:       scopesOf(tok),
		Extra:        req.Credentials.Extra,
	}
	if len(out.Scopes) == 0 {
		out.Scopes = req.Credentials.Scopes
	}
	return out, nil
}

// Revoke revokes the grant at Google (the refresh token, which takes its
// access tokens with it). A token Google already considers invalid is
// revoked as far as anyone can tell: that is success.
func (c *connector) Revoke(ctx context.Context, req *sdk.CredentialsRequest) error {
	tok := cmp.Or(req.Credentials.RefreshToken, req.Credentials.AccessToken)
	if tok == "" {
		return nil
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpointsFor(req.App).revoke,
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "revoke: build request: %v", err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(hreq)
	if err != nil {
		return sdk.NewError(sdk.ClassRetryable, "", "revoke: %v", unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var oe struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &oe)
	if resp.StatusCode == http.StatusBadRequest && oe.Error == "invalid_token" {
		return nil
	}
	return classify("revoke", resp.StatusCode, resp.Header, raw, c.now())
}

type locationInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// ValidateCredentials reads the location's title (Business Information
// API) and one review (the v4 API the inbox uses), so a token that cannot
// read this location's reviews is refused at connection time.
func (c *connector) ValidateCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	loc, err := parseLocation(req.AccountID)
	if err != nil {
		return nil, err
	}
	e := endpointsFor(req.App)
	var info locationInfo
	if err := c.call(ctx, req.App, req.Credentials, "read location", http.MethodGet,
		e.info+"/locations/"+loc.location+"?readMask=name,title", nil, &info); err != nil {
		return nil, err
	}
	if err := c.call(ctx, req.App, req.Credentials, "read reviews", http.MethodGet,
		e.v4+"/"+loc.String()+"/reviews?pageSize=1", nil, nil); err != nil {
		return nil, err
	}
	return &sdk.AccountInfo{AccountID: loc.String(), Name: cmp.Or(info.Title, loc.String()), Platform: Platform,
		Scopes: req.Credentials.Scopes, ExpiresAt: req.Credentials.ExpiresAt}, nil
}
