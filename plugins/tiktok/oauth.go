package tiktok

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// TikTok's OAuth endpoints are written out with net/http rather than
// golang.org/x/oauth2: TikTok names the client "client_key" (oauth2 sends
// client_id, and its refreshing TokenSource cannot add a parameter), joins
// scopes with commas, and may answer a refused grant with an "error" body
// that oauth2 reports without its code, which is what tells a revoked
// grant (invalid_grant) from a transient failure.

const (
	tokenPath    = "/v2/oauth/token/"
	revokePath   = "/v2/oauth/revoke/"
	userInfoPath = "/v2/user/info/"
)

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        flexInt         `json:"expires_in"`
	OpenID           string          `json:"open_id"`
	RefreshToken     string          `json:"refresh_token"`
	RefreshExpiresIn flexInt         `json:"refresh_expires_in"`
	Scope            string          `json:"scope"`
	TokenType        string          `json:"token_type"`
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
	LogID            string          `json:"log_id"`
}

// errorCode reads "error" as OAuth's string or as API v2's object.
func (t *tokenResponse) errorCode() (code, message string) {
	raw := bytes.TrimSpace(t.Error)
	if len(raw) == 0 || string(raw) == "null" {
		return "", t.ErrorDescription
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, t.ErrorDescription
	}
	var oe openError
	if json.Unmarshal(raw, &oe) == nil {
		if oe.Code == "ok" {
			return "", ""
		}
		if t.LogID == "" {
			t.LogID = oe.LogID
		}
		return oe.Code, joinNonEmpty(": ", oe.Message, t.ErrorDescription)
	}
	return "unknown_error", string(raw)
}

// oauthCodeClass classifies the token endpoint's error codes.
var oauthCodeClass = map[string]sdk.ErrorClass{
	// A refresh token or code that is expired, revoked, or was never
	// issued: the grant is gone and only a reconnection restores it.
	"invalid_grant":           sdk.ClassAuthRevoked,
	"access_token_invalid":    sdk.ClassAuthRevoked,
	"access_denied":           sdk.ClassPermanent,
	"invalid_client":          sdk.ClassPermanent,
	"invalid_request":         sdk.ClassPermanent,
	"invalid_scope":           sdk.ClassPermanent,
	"unauthorized_client":     sdk.ClassPermanent,
	"unsupported_grant_type":  sdk.ClassPermanent,
	"rate_limit_exceeded":     sdk.ClassRetryable,
	"internal_error":          sdk.ClassRetryable,
	"server_error":            sdk.ClassRetryable,
	"temporarily_unavailable": sdk.ClassRetryable,
}

// postForm posts an OAuth form to the TikTok API and reads the answer.
func (c *connector) postForm(ctx context.Context, app sdk.App, path string, form url.Values) (*tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiBase(app)+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := c.do(req, "POST "+path)
	if err != nil {
		return nil, err
	}
	var tr tokenResponse
	decodeErr := json.Unmarshal(resp.body, &tr)
	code, msg := tr.errorCode()
	if code == "" && msg == "" && (resp.status < 200 || resp.status > 299) {
		msg = fmt.Sprintf("HTTP %d", resp.status)
	}
	if code != "" || resp.status < 200 || resp.status > 299 {
		class, known := oauthCodeClass[code]
		if !known {
			class = classOfStatus(resp.status)
		}
		if code == "invalid_grant" {
			msg = joinNonEmpty(": ", "TikTok refused the grant (expired, revoked or already used): reconnect the channel", msg)
		}
		if tr.LogID != "" {
			msg += " (log_id " + tr.LogID + ")"
		}
		e := &sdk.Error{Class: class, Code: code, Message: cmp.Or(msg, "the token endpoint refused the request")}
		if class == sdk.ClassRetryable {
			e.RetryAfter = sdk.ParseRetryAfter(resp.header.Get("Retry-After"), c.now())
		}
		return nil, e
	}
	if decodeErr != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "POST %s: unreadable response: %v", path, decodeErr)
	}
	return &tr, nil
}

// appKeys returns the app's client key and secret, or a permanent error
// naming what is missing.
func appKeys(app sdk.App) (key, secret string, err error) {
	key, secret = clientKey(app), clientSecret(app)
	switch {
	case key == "":
		return "", "", sdk.NewError(sdk.ClassPermanent, "", "no TikTok client key configured (NEKSIO_TIKTOK_CLIENT_KEY)")
	case secret == "":
		return "", "", sdk.NewError(sdk.ClassPermanent, "", "no TikTok client secret configured (NEKSIO_TIKTOK_CLIENT_SECRET)")
	}
	return key, secret, nil
}

// credentials turns a token answer into stored credentials, keeping what
// prev held that the answer leaves out (the refresh token when TikTok does
// not rotate it, the scopes, Extra).
func (c *connector) credentials(tr *tokenResponse, prev sdk.Credentials) sdk.Credentials {
	now := c.now()
	out := sdk.Credentials{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		Scopes:       splitScopes(tr.Scope),
		Extra:        maps.Clone(prev.Extra),
	}
	if out.RefreshToken == "" {
		out.RefreshToken = prev.RefreshToken
	}
	if len(out.Scopes) == 0 {
		out.Scopes = prev.Scopes
	}
	if out.Extra == nil {
		out.Extra = map[string]string{}
	}
	if tr.ExpiresIn > 0 {
		out.ExpiresAt = now.Add(time.Duration(tr.ExpiresIn) * time.Second).UTC()
	}
	if tr.RefreshExpiresIn > 0 {
		out.Extra[ExtraRefreshExpiresAt] = now.Add(time.Duration(tr.RefreshExpiresIn) * time.Second).UTC().Format(time.RFC3339)
	}
	if tr.OpenID != "" {
		out.Extra[ExtraOpenID] = tr.OpenID
	}
	return out
}

// splitScopes reads TikTok's comma-separated scopes (spaces tolerated).
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// AuthorizeURL builds Login Kit's consent page URL. The auth_url setting
// replaces the page (the emulator, or TikTok for Business's account-holder
// authorization when the app is a Business API app).
func (c *connector) AuthorizeURL(_ context.Context, req *sdk.AuthorizeRequest) (*sdk.AuthorizeResponse, error) {
	key := clientKey(req.App)
	if key == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no TikTok client key configured (NEKSIO_TIKTOK_CLIENT_KEY)")
	}
	if req.RedirectURI == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no redirect URI")
	}
	u, err := url.Parse(authURL(req.App))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "auth_url %q is not an absolute URL", authURL(req.App))
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	q := u.Query()
	q.Set("client_key", key)
	q.Set("scope", strings.Join(scopes, ","))
	q.Set("response_type", "code")
	q.Set("redirect_uri", req.RedirectURI)
	q.Set("state", req.State)
	u.RawQuery = q.Encode()
	return &sdk.AuthorizeResponse{URL: u.String()}, nil
}

// ExchangeCode trades the redirect's code for tokens and reads the
// account they open: one TikTok user, whose open_id is the channel's
// account id.
func (c *connector) ExchangeCode(ctx context.Context, req *sdk.ExchangeRequest) (*sdk.Grant, error) {
	code := req.Code
	if code == "" {
		code = first(req.Query, "code")
	}
	if code == "" {
		if e := first(req.Query, "error"); e != "" {
			return nil, sdk.NewError(sdk.ClassPermanent, e, "TikTok authorization refused: %s", cmp.Or(first(req.Query, "error_description"), e))
		}
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no authorization code")
	}
	key, secret, err := appKeys(req.App)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"client_key":    {key},
		"client_secret": {secret},
		"code":          {code},
		"grant_type":    {"authorization_code"},
		"redirect_uri":  {req.RedirectURI},
	}
	tr, err := c.postForm(ctx, req.App, tokenPath, form)
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) && se.Class == sdk.ClassAuthRevoked {
			// No channel to reconnect yet: the person authorizes again.
			e := *se
			e.Class = sdk.ClassPermanent
			e.Message = "the authorization code is invalid, expired or already used: authorize again: " + e.Message
			return nil, &e
		}
		return nil, annotate(err, "exchange code")
	}
	if tr.AccessToken == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok answered the code exchange without an access token")
	}
	creds := c.credentials(tr, sdk.Credentials{})
	user, err := c.userInfo(ctx, req.App, creds.AccessToken)
	if err != nil {
		return nil, annotate(err, "read the authorized account")
	}
	if user.OpenID == "" {
		user.OpenID = tr.OpenID
	}
	if user.OpenID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok named no open_id for the authorized account")
	}
	creds.Extra[ExtraOpenID] = user.OpenID
	if user.Username != "" {
		creds.Extra[ExtraUsername] = user.Username
	}
	acct := sdk.GrantedAccount{
		AccountID: user.OpenID,
		Name:      cmp.Or(user.DisplayName, user.Username),
		Platform:  Platform,
		Extra:     map[string]string{},
	}
	for k, v := range map[string]string{"union_id": user.UnionID, "avatar_url": user.AvatarURL, ExtraUsername: user.Username} {
		if v != "" {
			acct.Extra[k] = v
		}
	}
	return &sdk.Grant{Credentials: creds, Accounts: []sdk.GrantedAccount{acct}}, nil
}

func first(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

type userInfo struct {
	OpenID      string `json:"open_id"`
	UnionID     string `json:"union_id"`
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url"`
	Username    string `json:"username"`
}

func (c *connector) userInfo(ctx context.Context, app sdk.App, token string) (*userInfo, error) {
	var out struct {
		User userInfo `json:"user"`
	}
	q := url.Values{"fields": {"open_id,union_id,display_name,avatar_url"}}
	if err := c.openCall(ctx, app, token, http.MethodGet, userInfoPath, q, nil, &out); err != nil {
		return nil, err
	}
	return &out.User, nil
}

// ValidateCredentials reads the user the token opens; the channel's
// account id must be that user's open_id.
func (c *connector) ValidateCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	user, err := c.userInfo(ctx, req.App, req.Credentials.AccessToken)
	if err != nil {
		return nil, err
	}
	if user.OpenID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok named no open_id for this token")
	}
	if req.AccountID != "" && req.AccountID != user.OpenID {
		return nil, sdk.NewError(sdk.ClassPermanent, "",
			"the token opens TikTok account %s, not %s: the channel's externalId must be the account's open_id", user.OpenID, req.AccountID)
	}
	return &sdk.AccountInfo{
		AccountID: user.OpenID,
		Name:      cmp.Or(user.DisplayName, user.Username),
		Platform:  Platform,
		Scopes:    req.Credentials.Scopes,
		ExpiresAt: req.Credentials.ExpiresAt,
	}, nil
}

// RefreshCredentials trades the refresh token for a new access token.
// TikTok rotates refresh tokens: the answer's refresh token replaces the
// one sent and the old one stops working, so the host must store the
// result before anything else can fail. A refused refresh (invalid_grant)
// is ClassAuthRevoked.
func (c *connector) RefreshCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	if req.Credentials.RefreshToken == "" {
		return nil, sdk.NewError(sdk.ClassAuthRevoked, "", "no refresh token: reconnect the channel")
	}
	key, secret, err := appKeys(req.App)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"client_key":    {key},
		"client_secret": {secret},
		"grant_type":    {"refresh_token"},
		"refresh_token": {req.Credentials.RefreshToken},
	}
	tr, err := c.postForm(ctx, req.App, tokenPath, form)
	if err != nil {
		return nil, annotate(err, "refresh token")
	}
	if tr.AccessToken == "" {
		return nil, sdk.NewError(sdk.ClassRetryable, "", "TikTok answered the refresh without an access token")
	}
	if tr.OpenID != "" && req.AccountID != "" && tr.OpenID != req.AccountID {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "the refreshed token opens TikTok account %s, not %s", tr.OpenID, req.AccountID)
	}
	creds := c.credentials(tr, req.Credentials)
	return &creds, nil
}

// Revoke invalidates the channel's access token (and with it the
// authorization). A token TikTok already considers invalid counts as
// revoked.
func (c *connector) Revoke(ctx context.Context, req *sdk.CredentialsRequest) error {
	if req.Credentials.AccessToken == "" {
		return nil
	}
	key, secret, err := appKeys(req.App)
	if err != nil {
		return err
	}
	form := url.Values{
		"client_key":    {key},
		"client_secret": {secret},
		"token":         {req.Credentials.AccessToken},
	}
	if _, err := c.postForm(ctx, req.App, revokePath, form); err != nil {
		if e, ok := err.(*sdk.Error); ok && (e.Code == "access_token_invalid" || e.Code == "invalid_grant") {
			return nil
		}
		return annotate(err, "revoke token")
	}
	return nil
}
