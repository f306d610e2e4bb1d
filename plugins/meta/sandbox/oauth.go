package sandbox

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Facebook Login, emulated: a consent page that redirects back with a
// code, the token endpoint (code → short-lived user token → long-lived
// one), the user's Pages with their tokens and linked Instagram accounts,
// and each account's webhook subscription.

// Token lifetimes, as Meta states them.
const (
	CodeTTL           = 10 * time.Minute
	ShortLivedUserTTL = time.Hour
	LongLivedUserTTL  = 60 * 24 * time.Hour
)

// extras is the emulator's state beyond messaging and publishing.
type extras struct {
	appID       string
	users       map[string]*user
	codes       map[string]*grantCode
	userTokens  map[string]*userToken
	pageTokens  map[[2]string]string // user, page → the Page token me/accounts gives
	links       map[string]string    // page → linked Instagram account
	subs        map[string][]string  // account → subscribed fields
	profiles    map[string]Profile
	posts       map[string]Post
	igMedia     map[string]Media
	attachments map[string]*attachment
	attTTL      time.Duration
}

type user struct {
	id, name string
	pages    []string
}

type grantCode struct {
	user, clientID, redirect string
	scopes                   []string
	issued                   time.Time
	used                     bool
}

type userToken struct {
	user    string
	long    bool
	expires time.Time
	scopes  []string
}

// init makes the maps; s.mu is held.
func (x *extras) init() {
	if x.users != nil {
		return
	}
	x.users, x.codes, x.userTokens = map[string]*user{}, map[string]*grantCode{}, map[string]*userToken{}
	x.pageTokens, x.links, x.subs = map[[2]string]string{}, map[string]string{}, map[string][]string{}
	x.profiles, x.posts, x.igMedia = map[string]Profile{}, map[string]Post{}, map[string]Media{}
	x.attachments = map[string]*attachment{}
	if x.attTTL == 0 {
		x.attTTL = DefaultAttachmentTTL
	}
}

// WithAppID makes the login dialog and the token endpoint accept only this
// client_id; without it any non-empty one is accepted. The token endpoint
// checks client_secret against WithAppSecret's secret when set.
func WithAppID(id string) Option {
	return func(s *Server) { s.x.appID = id }
}

// AddUser registers a Facebook user who manages pageIDs (registered with
// AddPage): the login dialog offers them, and me/accounts lists those
// Pages with fresh Page tokens.
func (s *Server) AddUser(userID, name string, pageIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.users[userID] = &user{id: userID, name: name, pages: append([]string(nil), pageIDs...)}
}

// LinkInstagram links an Instagram account (AddInstagramAccount) to a Page:
// me/accounts names it as the Page's instagram_business_account, and the
// Page's tokens act for it.
func (s *Server) LinkInstagram(pageID, igID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.links[pageID] = igID
}

// Subscriptions returns the fields the account is subscribed to
// (POST /{account}/subscribed_apps), nil if it is not.
func (s *Server) Subscriptions(accountID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	return append([]string(nil), s.x.subs[accountID]...)
}

// linkedIG returns the Instagram account linked to acct, if acct is a Page
// that has one.
func (s *Server) linkedIG(acct *account) *account {
	s.x.init()
	if acct == nil || acct.instagram {
		return nil
	}
	if ig, ok := s.x.links[acct.id]; ok {
		return s.accounts[ig]
	}
	return nil
}

// actingAs is the account a call acts as: a Page's token acts for its
// linked Instagram account on that account's node and on Instagram
// comment replies.
func (s *Server) actingAs(acct *account, node, edge string) *account {
	if ig := s.linkedIG(acct); ig != nil && (node == ig.id || edge == "replies") {
		return ig
	}
	return acct
}

// messagedAs is the account a DM from acct to recipient is sent as: a Page
// with a linked Instagram account writes to that account's customers as
// the Instagram account (Messenger API for Instagram).
func (s *Server) messagedAs(acct *account, recipient string) *account {
	ig := s.linkedIG(acct)
	if ig == nil {
		return acct
	}
	if _, page := s.seen[seenKey{acct.id, recipient}]; page {
		return acct
	}
	if _, insta := s.seen[seenKey{ig.id, recipient}]; insta {
		return ig
	}
	if p, ok := s.x.profiles[recipient]; ok && p.Instagram {
		return ig
	}
	return acct
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Log in with Facebook (Neksio sandbox)</title></head>
<body>
<h1>Log in with Facebook</h1>
<p>The app <b>{{.ClientID}}</b> asks for: {{.Scope}}</p>
<form method="post" action="">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<p><label>Permissions granted <input name="granted_scopes" value="{{.Scope}}" size="80"></label></p>
{{range $i, $u := .Users}}<p><label><input type="radio" name="user" value="{{$u.ID}}"{{if eq $i 0}} checked{{end}}> {{$u.Name}} ({{$u.ID}})</label></p>
{{else}}<p>No user is registered with the sandbox (AddUser).</p>{{end}}
<button name="decision" value="allow">Continue</button>
<button name="decision" value="deny">Cancel</button>
</form>
</body></html>
`))

type consentUser struct{ ID, Name string }

// serveUser answers what needs no Page or Instagram token: the login
// dialog, the token endpoint, and calls made with a user token. It reports
// whether it answered. s.mu is held.
func (s *Server) serveUser(w http.ResponseWriter, r *http.Request, path string, p map[string]string) bool {
	s.x.init()
	switch {
	case path == "dialog/oauth" && r.Method == http.MethodGet:
		s.dialog(w, p)
	case path == "dialog/oauth" && r.Method == http.MethodPost:
		s.decide(w, r, p)
	case path == "oauth/access_token":
		out, gerr := s.accessToken(p)
		if gerr != nil {
			gerr.write(w)
		} else {
			writeJSON(w, http.StatusOK, out)
		}
	default:
		tok := token(r, p)
		ut, ok := s.x.userTokens[tok]
		if !ok {
			return false
		}
		out, gerr := s.userCall(r.Method, path, tok, ut, p)
		if gerr != nil {
			gerr.write(w)
		} else {
			writeJSON(w, http.StatusOK, out)
		}
	}
	return true
}

func (s *Server) checkClient(clientID string) string {
	switch {
	case clientID == "":
		return "The client_id parameter is missing."
	case s.x.appID != "" && clientID != s.x.appID:
		return "Invalid App ID: " + clientID
	}
	return ""
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// dialog renders the consent page. Like Facebook, a bad app id or redirect
// URI is an error page, never a redirect.
func (s *Server) dialog(w http.ResponseWriter, p map[string]string) {
	if msg := s.checkClient(p["client_id"]); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	if !absoluteHTTP(p["redirect_uri"]) {
		http.Error(w, "URL blocked: the redirect_uri is not an absolute http(s) URL", http.StatusBadRequest)
		return
	}
	if rt := p["response_type"]; rt != "" && rt != "code" {
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	}
	var users []consentUser
	for _, u := range s.x.users {
		users = append(users, consentUser{u.id, u.name})
	}
	slices.SortFunc(users, func(a, b consentUser) int { return strings.Compare(a.ID, b.ID) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentPage.Execute(w, map[string]any{"ClientID": p["client_id"], "RedirectURI": p["redirect_uri"],
		"State": p["state"], "Scope": p["scope"], "Users": users})
}

// decide answers the consent form: a redirect back with a code, or with
// Facebook's error parameters when the person cancels.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if msg := s.checkClient(p["client_id"]); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	back, err := url.Parse(p["redirect_uri"])
	if err != nil || !absoluteHTTP(p["redirect_uri"]) {
		http.Error(w, "URL blocked: the redirect_uri is not an absolute http(s) URL", http.StatusBadRequest)
		return
	}
	q := back.Query()
	if p["decision"] != "allow" {
		q.Set("error", "access_denied")
		q.Set("error_code", "200")
		q.Set("error_description", "Permissions error")
		q.Set("error_reason", "user_denied")
	} else {
		u, ok := s.x.users[p["user"]]
		if !ok {
			http.Error(w, "unknown user "+strconv.Quote(p["user"]), http.StatusBadRequest)
			return
		}
		code := "AQ" + newID("") + newID("")
		s.x.codes[code] = &grantCode{user: u.id, clientID: p["client_id"], redirect: p["redirect_uri"],
			scopes: splitScopes(p["granted_scopes"]), issued: s.now()}
		q.Set("code", code)
	}
	if st := p["state"]; st != "" {
		q.Set("state", st)
	}
	back.RawQuery = q.Encode()
	back.Fragment = "_=_" // Facebook appends it to every redirect
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func oauthErr(code, subcode int, msg string) *graphErr {
	return &graphErr{status: http.StatusBadRequest, code: code, subcode: subcode, msg: msg}
}

// accessToken is the token endpoint: a code for a short-lived user token,
// or (grant_type=fb_exchange_token) a user token for a long-lived one.
func (s *Server) accessToken(p map[string]string) (any, *graphErr) {
	if msg := s.checkClient(p["client_id"]); msg != "" {
		return nil, oauthErr(101, 0, "Error validating application. "+msg)
	}
	if p["client_secret"] == "" || s.appSecret != "" && p["client_secret"] != s.appSecret {
		return nil, oauthErr(1, 0, "Error validating client secret.")
	}
	now := s.now()
	if p["grant_type"] == "fb_exchange_token" {
		ut, ok := s.x.userTokens[p["fb_exchange_token"]]
		if !ok || now.After(ut.expires) {
			return nil, oauthErr(190, 0, "Error validating access token: the session is invalid or has expired.")
		}
		tok := "EAAlong" + newID("")
		s.x.userTokens[tok] = &userToken{user: ut.user, long: true, expires: now.Add(LongLivedUserTTL), scopes: ut.scopes}
		return map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(LongLivedUserTTL.Seconds())}, nil
	}
	c, ok := s.x.codes[p["code"]]
	switch {
	case p["code"] == "":
		return nil, badParam("The parameter code is required")
	case !ok:
		return nil, oauthErr(100, 36009, "Invalid verification code format.")
	case c.used:
		return nil, oauthErr(100, 36009, "This authorization code has been used.")
	case now.Sub(c.issued) > CodeTTL:
		return nil, oauthErr(100, 36007, "This authorization code has expired.")
	case c.clientID != p["client_id"] || c.redirect != p["redirect_uri"]:
		return nil, oauthErr(100, 36008, "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
	}
	c.used = true
	tok := "EAAshort" + newID("")
	s.x.userTokens[tok] = &userToken{user: c.user, expires: now.Add(ShortLivedUserTTL), scopes: c.scopes}
	return map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(ShortLivedUserTTL.Seconds())}, nil
}

// userCall answers me, me/permissions and me/accounts for a user token.
func (s *Server) userCall(method, path, tok string, ut *userToken, p map[string]string) (any, *graphErr) {
	if s.now().After(ut.expires) {
		return nil, oauthErr(190, 463, "Error validating access token: Session has expired.")
	}
	if s.appSecret != "" && !sdk.VerifyHMACSHA256Hex([]byte(s.appSecret), []byte(tok), p["appsecret_proof"]) {
		return nil, badParam("Invalid appsecret_proof provided in the API argument")
	}
	u := s.x.users[ut.user]
	switch {
	case method == http.MethodGet && path == "me":
		return map[string]string{"id": u.id, "name": u.name}, nil
	case method == http.MethodGet && path == "me/permissions":
		var data []map[string]string
		for _, sc := range ut.scopes {
			data = append(data, map[string]string{"permission": sc, "status": "granted"})
		}
		return map[string]any{"data": data}, nil
	case method == http.MethodDelete && path == "me/permissions":
		delete(s.x.userTokens, tok)
		s.revoked[tok] = true
		return map[string]bool{"success": true}, nil
	case method == http.MethodGet && path == "me/accounts":
		return s.meAccounts(u, p)
	}
	return nil, &graphErr{status: http.StatusBadRequest, code: 100, msg: fmt.Sprintf("Unsupported %s request with a user token: %s", method, path), typ: "GraphMethodException"}
}

// meAccounts lists the user's Pages, limit at a time, with cursors.
func (s *Server) meAccounts(u *user, p map[string]string) (any, *graphErr) {
	limit := 25
	if v, err := strconv.Atoi(p["limit"]); err == nil && v > 0 {
		limit = min(v, 100)
	}
	start := 0
	if a := p["after"]; a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(u.pages) {
			return nil, badParam("invalid after cursor")
		}
		start = n
	}
	withIG := strings.Contains(p["fields"], "instagram_business_account")
	var data []map[string]any
	end := min(start+limit, len(u.pages))
	for _, id := range u.pages[start:end] {
		a := s.accounts[id]
		if a == nil {
			continue
		}
		key := [2]string{u.id, id}
		tok, ok := s.x.pageTokens[key]
		if !ok {
			tok = "EAApage" + newID("")
			s.x.pageTokens[key] = tok
			s.tokens[tok] = id
		}
		item := map[string]any{"id": a.id, "name": a.name, "access_token": tok, "category": a.category,
			"tasks": []string{"ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"}}
		if ig := s.linkedIG(a); ig != nil && withIG {
			item["instagram_business_account"] = map[string]string{"id": ig.id, "username": ig.username, "name": ig.name}
		}
		data = append(data, item)
	}
	paging := map[string]any{"cursors": map[string]string{
		"before": base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(start))),
		"after":  base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))),
	}}
	if end < len(u.pages) {
		paging["next"] = "https://graph.facebook.com/v21.0/me/accounts?after=" + base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return map[string]any{"data": data, "paging": paging}, nil
}

// Fields a subscription may name.
var (
	pageSubscriptionFields = []string{"messages", "message_echoes", "message_deliveries", "message_reads", "message_edits",
		"message_reactions", "messaging_postbacks", "messaging_optins", "messaging_referrals", "messaging_handovers",
		"standby", "feed", "mention", "inbox_labels"}
	igSubscriptionFields = []string{"messages", "messaging_postbacks", "messaging_seen", "message_reactions", "comments",
		"live_comments", "mentions", "story_insights"}
)

// subscribe records POST /{account}/subscribed_apps, made with the
// account's own token (a Page's, or an Instagram Login token).
func (s *Server) subscribe(acct *account, node string, p map[string]string) (any, *graphErr) {
	if node == "me" {
		node = acct.id
	}
	if node != acct.id {
		return nil, &graphErr{status: http.StatusForbidden, code: 210, msg: "(#210) A page access token is required to request this resource."}
	}
	fields := splitScopes(p["subscribed_fields"])
	if len(fields) == 0 {
		return nil, badParam("The parameter subscribed_fields is required.")
	}
	valid := pageSubscriptionFields
	if acct.instagram {
		valid = igSubscriptionFields
	}
	for _, f := range fields {
		if !slices.Contains(valid, f) {
			return nil, badParam(fmt.Sprintf("Param subscribed_fields[%s] must be one of {%s}", f, strings.Join(valid, ", ")))
		}
	}
	slices.Sort(fields)
	s.x.subs[acct.id] = slices.Compact(fields)
	return map[string]bool{"success": true}, nil
}

func (s *Server) subscriptions(acct *account, node string) (any, *graphErr) {
	if node == "me" {
		node = acct.id
	}
	var data []map[string]any
	if f, ok := s.x.subs[node]; ok {
		data = append(data, map[string]any{"id": s.x.appID, "name": "Neksio", "subscribed_fields": f})
	}
	return map[string]any{"data": data}, nil
}
