package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AllScopes are what Grant and the consent page give when no scope is
// named.
var AllScopes = []string{"user.info.basic", "user.info.profile", "video.publish", "video.upload", "video.list"}

// codeTTL is how long an authorization code may be exchanged.
const codeTTL = 10 * time.Minute

// Tokens are what one authorization (or refresh) issued.
type Tokens struct {
	OpenID       string
	AccessToken  string
	RefreshToken string
	Scopes       []string
	ExpiresIn    int64
}

// Grant authorizes the app on openID's account without the consent page
// and returns its tokens (tests and `neksio sandbox` connect with them).
func (s *Server) Grant(openID string, scopes ...string) Tokens {
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(&grant{openID: openID, scopes: slices.Clone(scopes)}, "")
}

// issue mints an access and a refresh token for g; parent is the refresh
// token they replace, if any. s.mu must be held.
func (s *Server) issue(g *grant, parent string) Tokens {
	now := s.now()
	t := Tokens{OpenID: g.openID, AccessToken: secret("act."), RefreshToken: secret("rft."),
		Scopes: g.scopes, ExpiresIn: int64(s.accessTTL / time.Second)}
	s.access[t.AccessToken] = &accessToken{grant: g, expires: now.Add(s.accessTTL)}
	s.refresh[t.RefreshToken] = &refreshToken{grant: g, expires: now.Add(s.refreshTTL), parent: parent}
	return t
}

// AuthorizationCode returns a code as the consent page would redirect
// with, for openID's account.
func (s *Server) AuthorizationCode(openID, redirectURI string, scopes ...string) string {
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newCode(openID, redirectURI, scopes)
}

func (s *Server) newCode(openID, redirectURI string, scopes []string) string {
	code := secret("code.")
	s.codes[code] = &authCode{openID: openID, redirectURI: redirectURI, scopes: slices.Clone(scopes), expires: s.now().Add(codeTTL)}
	return code
}

// Deauthorize ends every authorization of openID's account, as when the
// person disconnects the app (reason 1) or the account is banned (4):
// its tokens stop working, refreshes are refused (invalid_grant), and
// authorization.removed is sent to the webhook sink.
func (s *Server) Deauthorize(openID string, reason int) {
	s.mu.Lock()
	found := s.revokeGrants(func(g *grant) bool { return g.openID == openID })
	s.mu.Unlock()
	if found {
		s.emit(AuthorizationRemoved(s.clientKey, openID, reason))
	}
}

// revokeGrants revokes the grants match selects; s.mu must be held.
func (s *Server) revokeGrants(match func(*grant) bool) bool {
	found := false
	for _, at := range s.access {
		if !at.grant.revoked && match(at.grant) {
			at.grant.revoked, found = true, true
		}
	}
	for _, rt := range s.refresh {
		if !rt.grant.revoked && match(rt.grant) {
			rt.grant.revoked, found = true, true
		}
	}
	return found
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description, "log_id": secret("")[:20]})
}

// token serves POST /v2/oauth/token/: the authorization_code and
// refresh_token grants. Refresh tokens rotate; see WithRefreshGrace.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	f := r.PostForm
	if f.Get("client_key") != s.clientKey || f.Get("client_secret") != s.clientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client key or secret is invalid.")
		return
	}
	s.mu.Lock()
	var toks Tokens
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		switch {
		case !ok || c.used:
			s.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Authorization code is invalid or already used.")
			return
		case !s.now().Before(c.expires):
			s.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Authorization code is expired.")
			return
		case c.redirectURI != "" && c.redirectURI != f.Get("redirect_uri"):
			s.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request.")
			return
		}
		c.used = true
		toks = s.issue(&grant{openID: c.openID, scopes: c.scopes}, "")
	case "refresh_token":
		old := f.Get("refresh_token")
		rt, ok := s.refresh[old]
		if !ok || rt.revoked || rt.grant.revoked || !s.now().Before(rt.expires) {
			s.mu.Unlock()
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Refresh token is invalid or expired.")
			return
		}
		if s.refreshGrace {
			// Using rt proves its issuer stored it: retire the token it
			// replaced; rt itself lives until its successor is used.
			if p, ok := s.refresh[rt.parent]; ok {
				p.revoked = true
			}
			toks = s.issue(rt.grant, old)
		} else {
			rt.revoked = true
			toks = s.issue(rt.grant, "")
		}
	default:
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":       toks.AccessToken,
		"expires_in":         toks.ExpiresIn,
		"open_id":            toks.OpenID,
		"refresh_token":      toks.RefreshToken,
		"refresh_expires_in": int64(s.refreshTTL / time.Second),
		"scope":              strings.Join(toks.Scopes, ","),
		"token_type":         "Bearer",
	})
}

// revokeToken serves POST /v2/oauth/revoke/: the token's authorization
// ends, and TikTok says so with authorization.removed (reason 5).
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	f := r.PostForm
	if f.Get("client_key") != s.clientKey || f.Get("client_secret") != s.clientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client key or secret is invalid.")
		return
	}
	s.mu.Lock()
	at, ok := s.access[f.Get("token")]
	var openID string
	found := false
	if ok && !at.grant.revoked {
		g := at.grant
		openID = g.openID
		found = s.revokeGrants(func(x *grant) bool { return x == g })
	}
	s.mu.Unlock()
	if found {
		s.emit(AuthorizationRemoved(s.clientKey, openID, 5))
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// userInfo serves GET /v2/user/info/ with the fields asked for.
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	acct, aerr := s.bearer(r, "user.info.basic")
	if aerr != nil {
		aerr.write(w)
		return
	}
	fields := strings.Split(r.URL.Query().Get("fields"), ",")
	if len(fields) == 0 || fields[0] == "" {
		invalidParams("fields is required").write(w)
		return
	}
	all := map[string]string{
		"open_id": acct.OpenID, "union_id": acct.UnionID, "display_name": acct.DisplayName,
		"avatar_url": acct.AvatarURL, "username": acct.Username,
	}
	user := map[string]string{}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		v, ok := all[f]
		if !ok {
			invalidParams("unknown field %q", f).write(w)
			return
		}
		user[f] = v
	}
	writeOK(w, map[string]any{"user": user})
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>TikTok sandbox: authorize {{.ClientKey}}</title></head>
<body>
<h1>Authorize {{.ClientKey}}</h1>
<p>Scopes: {{.Scope}}</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{else}}
<form method="post">
<input type="hidden" name="client_key" value="{{.ClientKey}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="scope" value="{{.Scope}}">
{{range .Accounts}}<label><input type="radio" name="open_id" value="{{.OpenID}}" required> {{.DisplayName}} (@{{.Username}}, {{.OpenID}})</label><br>
{{else}}<p>No account: add one with POST /_sandbox/tiktok/accounts.</p>{{end}}
<button name="decision" value="allow">Authorize</button>
<button name="decision" value="deny" formnovalidate>Cancel</button>
</form>{{end}}
</body></html>
`))

// authorizePage serves the consent page at /v2/auth/authorize/: GET shows
// the accounts to authorize, POST redirects back with a code and the
// state, or with error=access_denied.
func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.Form
	data := struct {
		ClientKey, RedirectURI, State, Scope, Error string
		Accounts                                    []Account
	}{ClientKey: f.Get("client_key"), RedirectURI: f.Get("redirect_uri"), State: f.Get("state"), Scope: f.Get("scope")}
	back, err := url.Parse(data.RedirectURI)
	switch {
	case data.ClientKey != s.clientKey:
		data.Error = "unknown client_key"
	case err != nil || back.Scheme == "" || back.Host == "":
		data.Error = "redirect_uri must be an absolute URL"
	case r.Method == http.MethodGet && f.Get("response_type") != "code":
		data.Error = "response_type must be code"
	}
	if data.Error != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = consentPage.Execute(w, data)
		return
	}
	if r.Method == http.MethodGet {
		s.mu.Lock()
		for _, a := range s.accounts {
			data.Accounts = append(data.Accounts, *a)
		}
		s.mu.Unlock()
		slices.SortFunc(data.Accounts, func(a, b Account) int { return strings.Compare(a.OpenID, b.OpenID) })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = consentPage.Execute(w, data)
		return
	}
	q := back.Query()
	q.Set("state", data.State)
	openID := f.Get("open_id")
	s.mu.Lock()
	_, known := s.accounts[openID]
	if f.Get("decision") == "allow" && known {
		scopes := strings.FieldsFunc(data.Scope, func(r rune) bool { return r == ',' || r == ' ' })
		if len(scopes) == 0 {
			scopes = AllScopes
		}
		q.Set("code", s.newCode(openID, data.RedirectURI, scopes))
		q.Set("scopes", strings.Join(scopes, ","))
	} else {
		q.Set("error", "access_denied")
		q.Set("error_description", "The user denied the authorization.")
	}
	s.mu.Unlock()
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}
