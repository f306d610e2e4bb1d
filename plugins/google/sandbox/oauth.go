package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Scope is the OAuth scope of the Business Profile APIs.
const Scope = "https://www.googleapis.com/auth/business.manage"

const codeTTL = 10 * time.Minute

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - Google Accounts (Neksio sandbox)</title></head>
<body>
<h1>Allow access to your Business Profile?</h1>
<p>The application <b>{{.ClientID}}</b> asks for: {{range .Scopes}}<code>{{.}}</code> {{end}}</p>
<form method="post" action="">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>
</body></html>
`))

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// authorize serves the consent page (GET) and its answer (POST), which
// redirects to redirect_uri with a code, or with error=access_denied.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Error 400: invalid_request", http.StatusBadRequest)
		return
	}
	clientID, redirectURI := r.Form.Get("client_id"), r.Form.Get("redirect_uri")
	if clientID == "" || s.clientID != "" && clientID != s.clientID {
		http.Error(w, "Error 401: invalid_client. The OAuth client was not found.", http.StatusUnauthorized)
		return
	}
	ru, err := url.Parse(redirectURI)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	if r.Form.Get("response_type") != "code" || r.Form.Get("scope") == "" {
		http.Error(w, "Error 400: invalid_request. response_type=code and a scope are required.", http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodGet {
		params := map[string]string{}
		for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "access_type", "prompt"} {
			if v := r.Form.Get(k); v != "" {
				params[k] = v
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = consentPage.Execute(w, map[string]any{"ClientID": clientID, "Scopes": strings.Fields(r.Form.Get("scope")), "Params": params})
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := ru.Query()
	if st := r.Form.Get("state"); st != "" {
		q.Set("state", st)
	}
	if r.Form.Get("decision") != "allow" {
		q.Set("error", "access_denied")
	} else {
		s.mu.Lock()
		code := s.token("4/sandbox-code-")
		s.codes[code] = &authCode{clientID: clientID, redirectURI: redirectURI, scopes: r.Form.Get("scope"),
			offline: r.Form.Get("access_type") == "offline", expires: s.now().Add(codeTTL)}
		s.mu.Unlock()
		q.Set("code", code)
		q.Set("scope", r.Form.Get("scope"))
	}
	ru.RawQuery = q.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// Authorize answers the consent page for a person who clicks allow (or
// cancel), the way a browser would, and returns the redirect URL.
func (s *Server) Authorize(authURL string, allow bool) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	form := u.Query()
	form.Set("decision", "deny")
	if allow {
		form.Set("decision", "allow")
	}
	req, err := http.NewRequest(http.MethodPost, "/o/oauth2/v2/auth", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := &redirectRecorder{header: http.Header{}}
	s.authorize(rec, req)
	if rec.status != http.StatusFound {
		return "", &url.Error{Op: "authorize", URL: authURL, Err: errStatus(rec.status)}
	}
	return rec.header.Get("Location"), nil
}

type errStatus int

func (e errStatus) Error() string { return "consent page answered " + http.StatusText(int(e)) }

type redirectRecorder struct {
	header http.Header
	status int
}

func (r *redirectRecorder) Header() http.Header         { return r.header }
func (r *redirectRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *redirectRecorder) WriteHeader(status int)      { r.status = status }

func (s *Server) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if s.clientID == "" {
		return id != ""
	}
	return id == s.clientID && secret == s.clientSecret
}

func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gate(w, true) {
		return
	}
	if !s.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	var g *grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code")) // single use, even when refused
		if code == nil || s.now().After(code.expires) || code.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
			return
		}
		g = &grant{scopes: code.scopes}
		if code.offline {
			g.refresh = s.token("1//refresh-")
			s.grants[g.refresh] = g
		}
	case "refresh_token":
		g = s.grants[r.PostForm.Get("refresh_token")]
		if g == nil || g.revoked {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	at, exp := s.issueAccess(g)
	out := map[string]any{"access_token": at, "expires_in": int(exp.Sub(s.now()).Seconds()) - 1,
		"scope": g.scopes, "token_type": "Bearer"}
	if r.PostForm.Get("grant_type") == "authorization_code" && g.refresh != "" {
		out["refresh_token"] = g.refresh
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// revoke invalidates a grant from its refresh token or any of its access
// tokens.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	tok := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gate(w, true) {
		return
	}
	g := s.grants[tok]
	if a := s.access[tok]; g == nil && a != nil {
		g = a.grant
	}
	if g == nil || g.revoked {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	g.revoked = true
	writeJSON(w, http.StatusOK, struct{}{})
}
