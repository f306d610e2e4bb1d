package meta

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/neksio/neksio/plugins/sdk"
)

// DefaultAuthURL is Facebook Login's consent dialog, at the Graph API
// version the connector was written against; the auth_url setting
// replaces it (the emulator serves one).
const DefaultAuthURL = "https://www.facebook.com/v21.0/dialog/oauth"

// DefaultScopes are what onboarding asks for: Pages and their Messenger
// conversations and comments, Instagram accounts linked to them, and
// publishing on both.
var DefaultScopes = []string{
	"pages_show_list", "pages_messaging", "pages_manage_metadata", "pages_read_engagement",
	"pages_manage_posts", "instagram_basic", "instagram_manage_messages",
	"instagram_manage_comments", "instagram_content_publish", "business_management",
}

// Credentials.Extra and GrantedAccount.Extra keys set by ExchangeCode.
const (
	// ExtraPageID is the Page an Instagram account is linked to: its
	// token is that Page's, its messages go through that Page's Send
	// API, and its webhooks through that Page's subscription.
	ExtraPageID   = "page_id"
	ExtraPageName = "page_name"
	ExtraUsername = "username"
	ExtraCategory = "category"
)

// subscribedFields are what a Page is subscribed to: Messenger
// conversations and their statuses, and the Page feed (comments). An
// Instagram account linked to a Page receives its DMs and comments
// through the same Page subscription plus the app's Instagram webhook
// fields, which are set once per app in the dashboard.
var subscribedFields = []string{
	"messages", "message_echoes", "message_deliveries", "message_reads", "message_edits",
	"messaging_postbacks", "standby", "feed",
}

// instagramFields are the fields of an Instagram account subscribed on its
// own (Instagram Login tokens, no Page).
var instagramFields = []string{"messages", "comments", "live_comments"}

// maxListPages bounds the me/accounts pages of a grant (100 Pages each).
const maxListPages = 50

func appID(app sdk.App) string { return cmp.Or(app.Settings[SettingAppID], app.ClientID) }

func authURL(app sdk.App) string { return cmp.Or(app.Settings[SettingAuthURL], DefaultAuthURL) }

func oauthConfig(app sdk.App, redirectURI string, scopes []string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     appID(app),
		ClientSecret: app.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: authURL(app), TokenURL: baseURL(app) + "/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  redirectURI,
		Scopes:       scopes,
	}
}

func checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sdk.NewError(sdk.ClassPermanent, "", "redirect URI %q is not an absolute http(s) URL", raw)
	}
	return nil
}

// AuthorizeURL builds Facebook Login's consent URL for the app.
func (c *connector) AuthorizeURL(_ context.Context, req *sdk.AuthorizeRequest) (*sdk.AuthorizeResponse, error) {
	if appID(req.App) == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no Meta app id configured (NEKSIO_META_APP_ID)")
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return nil, err
	}
	if u, err := url.Parse(authURL(req.App)); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "auth_url %q is not an absolute URL", authURL(req.App))
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	// Facebook documents comma-separated scopes (it takes spaces too).
	u := oauthConfig(req.App, req.RedirectURI, []string{strings.Join(scopes, ",")}).AuthCodeURL(req.State)
	return &sdk.AuthorizeResponse{URL: u}, nil
}

func first(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ExchangeCode trades the code for a short-lived user token, that for a
// long-lived one (60 days), and lists the Pages it manages with their
// Page tokens (which, derived from a long-lived token, do not expire) and
// the Instagram account linked to each: one GrantedAccount per Page and
// per Instagram account, each with its own credentials.
func (c *connector) ExchangeCode(ctx context.Context, req *sdk.ExchangeRequest) (*sdk.Grant, error) {
	code := cmp.Or(req.Code, first(req.Query, "code"))
	if code == "" {
		if e := first(req.Query, "error"); e != "" {
			reason := cmp.Or(first(req.Query, "error_reason"), e)
			return nil, sdk.NewError(sdk.ClassPermanent, reason, "Facebook Login refused: %s",
				cmp.Or(first(req.Query, "error_description"), reason))
		}
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no authorization code")
	}
	if appID(req.App) == "" || req.App.ClientSecret == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no Meta app configured (NEKSIO_META_APP_ID and NEKSIO_META_APP_SECRET)")
	}
	if err := checkRedirect(req.RedirectURI); err != nil {
		return nil, err
	}
	short, err := oauthConfig(req.App, req.RedirectURI, nil).Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.client), code)
	if err != nil {
		return nil, oauthError("exchange the code", err)
	}
	long, err := c.longLived(ctx, req.App, short.AccessToken)
	if err != nil {
		return nil, annotate(err, "exchange for a long-lived token")
	}
	user := sdk.Credentials{AccessToken: long.AccessToken}
	if long.ExpiresIn > 0 {
		user.ExpiresAt = c.now().Add(time.Duration(long.ExpiresIn) * time.Second).UTC()
	}
	if user.Scopes, err = c.grantedScopes(ctx, req.App, user.AccessToken); err != nil {
		return nil, annotate(err, "read the granted permissions")
	}
	accounts, err := c.grantedAccounts(ctx, req.App, user)
	if err != nil {
		return nil, annotate(err, "list the Pages")
	}
	return &sdk.Grant{Credentials: user, Accounts: accounts}, nil
}

// oauthError classifies a failed code exchange. Meta answers with a Graph
// error object, which oauth2 cannot read: parse it from the body. A bad
// code (expired, used, or for another redirect URI) is permanent: there
// is no channel to reconnect yet, the person authorizes again.
func oauthError(what string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return sdk.NewError(sdk.ClassRetryable, "", "%s: %v", what, unwrapURLError(err))
	}
	var env struct {
		Error *graphError `json:"error"`
	}
	_ = json.Unmarshal(re.Body, &env)
	status, h := http.StatusBadRequest, http.Header{}
	if re.Response != nil {
		status, h = re.Response.StatusCode, re.Response.Header
	}
	if env.Error == nil && re.ErrorCode != "" {
		env.Error = &graphError{Message: cmp.Or(re.ErrorDescription, re.ErrorCode)}
	}
	e := tokenError(status, h, env.Error)
	e.Message = what + ": " + e.Message
	return e
}

// tokenError classifies a token endpoint failure. Only a server error, a
// rate limit or what Meta marks transient may succeed later: a 4xx there
// is a bad code, secret or app (code 1 "Error validating client secret",
// which elsewhere means a platform hiccup), and there is no channel to
// reconnect yet.
func tokenError(status int, h http.Header, ge *graphError) *sdk.Error {
	e := classify(status, h, ge)
	transient := status >= 500 || status == http.StatusTooManyRequests || ge != nil && (ge.IsTransient ||
		ge.Code == codeTooManyCalls || ge.Code == codeAppRateLimit || ge.Code == codeCallsExceeded)
	if e.Class != sdk.ClassPermanent && !transient {
		e.Class, e.RetryAfter = sdk.ClassPermanent, 0
	}
	return e
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// longLived trades a short-lived user token for a long-lived one. This is
// Meta's own grant type (fb_exchange_token), a GET on the token endpoint.
func (c *connector) longLived(ctx context.Context, app sdk.App, short string) (*tokenAnswer, error) {
	q := url.Values{
		"grant_type":        {"fb_exchange_token"},
		"client_id":         {appID(app)},
		"client_secret":     {app.ClientSecret},
		"fb_exchange_token": {short},
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(app)+"/oauth/access_token?"+q.Encode(), nil)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	hreq.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(hreq)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassRetryable, "", "GET oauth/access_token: %v", unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, sdk.NewError(sdk.ClassRetryable, "", "GET oauth/access_token: read response: %v", err)
	}
	if resp.StatusCode/100 != 2 {
		var env struct {
			Error *graphError `json:"error"`
		}
		_ = json.Unmarshal(raw, &env)
		return nil, tokenError(resp.StatusCode, resp.Header, env.Error)
	}
	var out tokenAnswer
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "the token endpoint answered without an access token")
	}
	return &out, nil
}

// grantedScopes lists the permissions the person granted: the consent
// dialog lets them untick some, and the host shows what is missing.
func (c *connector) grantedScopes(ctx context.Context, app sdk.App, token string) ([]string, error) {
	var out struct {
		Data []struct {
			Permission string `json:"permission"`
			Status     string `json:"status"`
		} `json:"data"`
	}
	if err := c.graph(ctx, app, token, http.MethodGet, "me/permissions", nil, nil, &out); err != nil {
		return nil, err
	}
	var scopes []string
	for _, p := range out.Data {
		if p.Status == "granted" {
			scopes = append(scopes, p.Permission)
		}
	}
	return scopes, nil
}

type pageNode struct {
	ID                       string `json:"id"`
	Name                     string `json:"name"`
	AccessToken              string `json:"access_token"`
	Category                 string `json:"category"`
	InstagramBusinessAccount *struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"instagram_business_account"`
}

type pagesAnswer struct {
	Data   []pageNode `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

const pagesFields = "id,name,access_token,category,instagram_business_account{id,username,name}"

// grantedAccounts reads me/accounts page by page. A Page listed without a
// token (the person lacks a task on it) cannot be connected and is left
// out.
func (c *connector) grantedAccounts(ctx context.Context, app sdk.App, user sdk.Credentials) ([]sdk.GrantedAccount, error) {
	var out []sdk.GrantedAccount
	after := ""
	for range maxListPages {
		q := url.Values{"fields": {pagesFields}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		var page pagesAnswer
		if err := c.graph(ctx, app, user.AccessToken, http.MethodGet, "me/accounts", q, nil, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Data {
			if p.ID == "" || p.AccessToken == "" {
				continue
			}
			out = append(out, sdk.GrantedAccount{
				AccountID: p.ID,
				Name:      cmp.Or(p.Name, p.ID),
				Platform:  PlatformFacebook,
				Credentials: &sdk.Credentials{AccessToken: p.AccessToken, Scopes: user.Scopes,
					Extra: map[string]string{ExtraPlatform: PlatformFacebook}},
				Extra: nonEmpty(map[string]string{ExtraCategory: p.Category}),
			})
			if ig := p.InstagramBusinessAccount; ig != nil && ig.ID != "" {
				out = append(out, sdk.GrantedAccount{
					AccountID: ig.ID,
					Name:      cmp.Or(ig.Username, ig.Name, ig.ID),
					Platform:  PlatformInstagram,
					Credentials: &sdk.Credentials{AccessToken: p.AccessToken, Scopes: user.Scopes,
						Extra: map[string]string{ExtraPlatform: PlatformInstagram, ExtraPageID: p.ID}},
					Extra: nonEmpty(map[string]string{ExtraPageID: p.ID, ExtraPageName: p.Name, ExtraUsername: ig.Username}),
				})
			}
		}
		after = page.Paging.Cursors.After
		if page.Paging.Next == "" || after == "" {
			return out, nil
		}
	}
	return out, nil
}

func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// SubscribeWebhooks subscribes the app to the account's webhooks with the
// account's token: a Page (and an Instagram account linked to a Page,
// through that Page) with POST /{page}/subscribed_apps; an Instagram
// account without a Page (Instagram Login) on its own node.
func (c *connector) SubscribeWebhooks(ctx context.Context, req *sdk.CredentialsRequest) error {
	if req.AccountID == "" {
		return sdk.NewError(sdk.ClassPermanent, "", "no account id")
	}
	node, fields := req.AccountID, subscribedFields
	if req.Credentials.Extra[ExtraPlatform] == PlatformInstagram {
		if page := req.Credentials.Extra[ExtraPageID]; page != "" {
			node = page
		} else {
			fields = instagramFields
		}
	}
	var out struct {
		Success bool `json:"success"`
	}
	q := url.Values{"subscribed_fields": {strings.Join(fields, ",")}}
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, url.PathEscape(node)+"/subscribed_apps", q, nil, &out); err != nil {
		return annotate(err, "subscribe "+node+" to webhooks")
	}
	if !out.Success {
		return sdk.NewError(sdk.ClassPermanent, "", "Meta did not confirm the webhook subscription of %s", node)
	}
	return nil
}
