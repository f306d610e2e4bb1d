package sandbox_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google/sandbox"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

type env struct {
	sb  *sandbox.Server
	url string
	tok sandbox.Tokens

	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func setup(t *testing.T, opts ...sandbox.Option) *env {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
	})
	e := &env{now: time.Date(2026, 11, 20, 10, 0, 30, 0, time.UTC)}
	e.sb = sandbox.New(append([]sandbox.Option{sandbox.WithClock(e.clock), sandbox.WithSigningKey(key), sandbox.WithClient("cid", "csecret")}, opts...)...)
	e.sb.AddAccount("1", "Cafe Group")
	e.sb.AddLocation("1", "2", "Cafe Central")
	srv := httptest.NewServer(e.sb)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.tok = e.sb.Grant()
	return e
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (e *env) do(t *testing.T, method, path, token, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (e *env) api(t *testing.T, method, path, body string) answer {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return e.do(t, method, path, e.tok.AccessToken, ct, body)
}

func errStatus(a answer) string {
	m, _ := a.body["error"].(map[string]any)
	s, _ := m["status"].(string)
	return s
}

const loc = "/v4/accounts/1/locations/2"

func TestReviewsListPagesAndOrders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i := range 60 {
		e.sb.CreateReview("1", "2", sandbox.NewReview{Reviewer: "g", Stars: 1 + i%5, Text: "t", At: e.now.Add(-time.Duration(i) * time.Minute)})
	}
	a := e.api(t, http.MethodGet, loc+"/reviews?pageSize=500&orderBy="+url.QueryEscape("updateTime desc"), "")
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, a.body["reviews"], 50, "pages hold at most 50")
	require.EqualValues(t, 60, a.body["totalReviewCount"])
	require.InDelta(t, 3.0, a.body["averageRating"], 0.001)
	next, _ := a.body["nextPageToken"].(string)
	require.NotEmpty(t, next)
	first := a.body["reviews"].([]any)[0].(map[string]any)
	require.Equal(t, "accounts/1/locations/2/reviews/"+first["reviewId"].(string), first["name"])

	a = e.api(t, http.MethodGet, loc+"/reviews?pageToken="+next, "")
	require.Len(t, a.body["reviews"], 10)
	require.Nil(t, a.body["nextPageToken"])

	a = e.api(t, http.MethodGet, loc+"/reviews?orderBy=rating", "")
	require.Equal(t, "ONE", a.body["reviews"].([]any)[0].(map[string]any)["starRating"])
	a = e.api(t, http.MethodGet, loc+"/reviews?orderBy="+url.QueryEscape("rating desc"), "")
	require.Equal(t, "FIVE", a.body["reviews"].([]any)[0].(map[string]any)["starRating"])

	for _, q := range []string{"orderBy=createTime", "pageToken=garbage", "pageSize=-1"} {
		a = e.api(t, http.MethodGet, loc+"/reviews?"+q, "")
		require.Equal(t, http.StatusBadRequest, a.status, q)
		require.Equal(t, "INVALID_ARGUMENT", errStatus(a), q)
	}
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sb.AddLocation("7", "8", "Elsewhere")
	for _, tok := range []string{"", "ya29.forged"} {
		a := e.do(t, http.MethodGet, loc+"/reviews", tok, "", "")
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "UNAUTHENTICATED", errStatus(a))
	}
	restricted := e.sb.Grant("1")
	a := e.do(t, http.MethodGet, "/v4/accounts/7/locations/8/reviews", restricted.AccessToken, "", "")
	require.Equal(t, http.StatusForbidden, a.status)
	a = e.do(t, http.MethodGet, loc+"/reviews", restricted.AccessToken, "", "")
	require.Equal(t, http.StatusOK, a.status)

	require.Equal(t, http.StatusNotFound, e.api(t, http.MethodGet, "/v4/accounts/1/locations/404/reviews", "").status)

	e.advance(sandbox.AccessTokenTTL)
	a = e.api(t, http.MethodGet, loc+"/reviews", "")
	require.Equal(t, http.StatusUnauthorized, a.status, "access tokens expire after an hour")
}

func TestReplies(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.sb.CreateReview("1", "2", sandbox.NewReview{Reviewer: "Ann", Stars: 4, Text: "Great"})
	path := "/v4/" + r.Name + "/reply"

	require.Equal(t, http.StatusNotFound, e.api(t, http.MethodDelete, path, "").status, "no reply yet")
	a := e.api(t, http.MethodPut, path, `{"comment":"Thanks!"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "Thanks!", a.body["comment"])
	require.NotEmpty(t, a.body["updateTime"])
	a = e.api(t, http.MethodPut, path, `{"comment":"Thanks a lot!"}`)
	require.Equal(t, http.StatusOK, a.status)
	got, _ := e.sb.Review(r.Name)
	require.Equal(t, "Thanks a lot!", got.ReviewReply.Comment)

	require.Equal(t, http.StatusBadRequest, e.api(t, http.MethodPut, path, `{"comment":""}`).status)
	require.Equal(t, http.StatusBadRequest, e.api(t, http.MethodPut, path, `{"comment":"`+strings.Repeat("x", 4097)+`"}`).status)
	require.Equal(t, http.StatusBadRequest, e.api(t, http.MethodPut, path, `not json`).status)

	require.Equal(t, http.StatusOK, e.api(t, http.MethodDelete, path, "").status)
	got, _ = e.sb.Review(r.Name)
	require.Nil(t, got.ReviewReply)
	calls := e.sb.Replies()
	require.Len(t, calls, 3)
	require.Equal(t, []string{"PUT", "PUT", "DELETE"}, []string{calls[0].Method, calls[1].Method, calls[2].Method})

	require.NoError(t, e.sb.DeleteReview(r.Name))
	require.Equal(t, http.StatusNotFound, e.api(t, http.MethodPut, path, `{"comment":"late"}`).status)
	require.Equal(t, http.StatusNotFound, e.api(t, http.MethodGet, "/v4/"+r.Name, "").status)
	require.Error(t, e.sb.DeleteReview(r.Name))
}

func TestLocalPosts(t *testing.T) {
	t.Parallel()
	e := setup(t, sandbox.WithPostPolls(1))
	for _, bad := range []string{
		`{"summary":"no topic"}`,
		`{"topicType":"EVENT","summary":"no event"}`,
		`{"topicType":"STANDARD","summary":"x","callToAction":{"actionType":"CALL","url":"https://x.example.com"}}`,
		`{"topicType":"STANDARD","summary":"x","callToAction":{"actionType":"BOOK"}}`,
		`{"topicType":"STANDARD","summary":"x","offer":{"couponCode":"A"}}`,
		`{"topicType":"STANDARD","summary":"` + strings.Repeat("x", 1501) + `"}`,
		`{"topicType":"STANDARD","media":[{"mediaFormat":"PHOTO","sourceUrl":"a"},{"mediaFormat":"PHOTO","sourceUrl":"b"}]}`,
	} {
		a := e.api(t, http.MethodPost, loc+"/localPosts", bad)
		require.Equal(t, http.StatusBadRequest, a.status, bad)
	}
	a := e.api(t, http.MethodPost, loc+"/localPosts", `{"topicType":"STANDARD","summary":"first","languageCode":"en"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "PROCESSING", a.body["state"])
	name := a.body["name"].(string)
	require.True(t, strings.HasPrefix(name, "accounts/1/locations/2/localPosts/"))
	require.NotEmpty(t, a.body["searchUrl"])

	require.Equal(t, "PROCESSING", e.api(t, http.MethodGet, "/v4/"+name, "").body["state"])
	require.Equal(t, "LIVE", e.api(t, http.MethodGet, "/v4/"+name, "").body["state"])

	e.sb.RejectNextPost()
	a = e.api(t, http.MethodPost, loc+"/localPosts", `{"topicType":"STANDARD","summary":"second"}`)
	second := a.body["name"].(string)
	e.api(t, http.MethodGet, "/v4/"+second, "")
	require.Equal(t, "REJECTED", e.api(t, http.MethodGet, "/v4/"+second, "").body["state"])

	list := e.api(t, http.MethodGet, loc+"/localPosts", "")
	posts := list.body["localPosts"].([]any)
	require.Len(t, posts, 2)
	require.Equal(t, second, posts[0].(map[string]any)["name"], "newest first")
	require.Len(t, e.sb.Posts(), 2)
	require.Equal(t, "first", e.sb.Posts()[0].Summary)
	require.Equal(t, http.StatusNotFound, e.api(t, http.MethodGet, loc+"/localPosts/1", "").status)
}

func TestAccountsAndLocations(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sb.AddLocation("1", "3", "Cafe Annex")
	a := e.api(t, http.MethodGet, "/accountmanagement/v1/accounts", "")
	require.Equal(t, http.StatusOK, a.status)
	accts := a.body["accounts"].([]any)
	require.Equal(t, "accounts/1", accts[0].(map[string]any)["name"])
	require.Equal(t, "Cafe Group", accts[0].(map[string]any)["accountName"])

	a = e.api(t, http.MethodGet, "/businessinformation/v1/accounts/1/locations?readMask=name,title&pageSize=1", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, []any{map[string]any{"name": "locations/2", "title": "Cafe Central"}}, a.body["locations"])
	a = e.api(t, http.MethodGet, "/businessinformation/v1/accounts/1/locations?readMask=name,title&pageToken="+a.body["nextPageToken"].(string), "")
	require.Equal(t, []any{map[string]any{"name": "locations/3", "title": "Cafe Annex"}}, a.body["locations"])

	require.Equal(t, http.StatusBadRequest, e.api(t, http.MethodGet, "/businessinformation/v1/accounts/1/locations", "").status, "readMask is required")
	a = e.api(t, http.MethodGet, "/businessinformation/v1/locations/2?readMask=title", "")
	require.Equal(t, map[string]any{"title": "Cafe Central"}, a.body)
	require.Equal(t, http.StatusNotFound, e.api(t, http.MethodGet, "/businessinformation/v1/locations/9?readMask=title", "").status)
}

func form(v url.Values) string { return v.Encode() }

func TestOAuthFlow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	params := url.Values{"client_id": {"cid"}, "redirect_uri": {"https://app.example.com/cb?x=1"}, "response_type": {"code"},
		"scope": {sandbox.Scope}, "state": {"s1"}, "access_type": {"offline"}, "prompt": {"consent"}}
	page := e.do(t, http.MethodGet, "/o/oauth2/v2/auth?"+params.Encode(), "", "", "")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, string(page.raw), `<form method="post"`)
	require.Contains(t, string(page.raw), `value="allow"`)

	bad := url.Values{}
	for k, v := range params {
		bad[k] = v
	}
	bad.Set("client_id", "intruder")
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, "/o/oauth2/v2/auth?"+bad.Encode(), "", "", "").status)

	allow := url.Values{"decision": {"allow"}}
	for k, v := range params {
		allow[k] = v
	}
	a := e.do(t, http.MethodPost, "/o/oauth2/v2/auth", "", "application/x-www-form-urlencoded", form(allow))
	require.Equal(t, http.StatusFound, a.status)
	back, err := url.Parse(a.header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "1", back.Query().Get("x"), "the redirect URI's own query is kept")
	require.Equal(t, "s1", back.Query().Get("state"))
	code := back.Query().Get("code")
	require.NotEmpty(t, code)

	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example.com/other"},
		"client_id": {"cid"}, "client_secret": {"csecret"}}
	a = e.do(t, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form(exchange))
	require.Equal(t, http.StatusBadRequest, a.status, "redirect_uri must match")
	require.Equal(t, "invalid_grant", a.body["error"])

	// The refused attempt spent the code: consent again.
	a = e.do(t, http.MethodPost, "/o/oauth2/v2/auth", "", "application/x-www-form-urlencoded", form(allow))
	back, _ = url.Parse(a.header.Get("Location"))
	exchange.Set("code", back.Query().Get("code"))
	exchange.Set("redirect_uri", "https://app.example.com/cb?x=1")
	a = e.do(t, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form(exchange))
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, "Bearer", a.body["token_type"])
	require.EqualValues(t, 3599, a.body["expires_in"])
	refresh := a.body["refresh_token"].(string)
	access := a.body["access_token"].(string)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, loc+"/reviews", access, "", "").status)

	ref := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"cid"}, "client_secret": {"csecret"}}
	a = e.do(t, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form(ref))
	require.Equal(t, http.StatusOK, a.status)
	require.NotEqual(t, access, a.body["access_token"], "each refresh issues a new access token")
	require.Nil(t, a.body["refresh_token"], "Google keeps the refresh token")

	ref.Set("client_secret", "wrong")
	a = e.do(t, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form(ref))
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "invalid_client", a.body["error"])

	// Revoking an access token revokes its grant.
	require.Equal(t, http.StatusOK, e.do(t, http.MethodPost, "/revoke?token="+url.QueryEscape(access), "", "", "").status)
	ref.Set("client_secret", "csecret")
	a = e.do(t, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", form(ref))
	require.Equal(t, "invalid_grant", a.body["error"])
	require.Equal(t, http.StatusBadRequest, e.do(t, http.MethodPost, "/revoke?token="+url.QueryEscape(access), "", "", "").status)

	deny := url.Values{"decision": {"deny"}}
	for k, v := range params {
		deny[k] = v
	}
	a = e.do(t, http.MethodPost, "/o/oauth2/v2/auth", "", "application/x-www-form-urlencoded", form(deny))
	back, _ = url.Parse(a.header.Get("Location"))
	require.Equal(t, "access_denied", back.Query().Get("error"))
	require.Empty(t, back.Query().Get("code"))

	a = e.do(t, http.MethodPost, "/token", "", "application/x-www-form-urlencoded", "grant_type=password&client_id=cid&client_secret=csecret")
	require.Equal(t, "unsupported_grant_type", a.body["error"])
}

func TestFailuresAndQuota(t *testing.T) {
	t.Parallel()
	e := setup(t, sandbox.WithQuota(3))
	e.sb.FailNext(1, http.StatusServiceUnavailable, 4*time.Second)
	a := e.api(t, http.MethodGet, loc+"/reviews", "")
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.Equal(t, "4", a.header.Get("Retry-After"))
	require.Equal(t, "UNAVAILABLE", errStatus(a))

	for range 3 {
		require.Equal(t, http.StatusOK, e.api(t, http.MethodGet, loc+"/reviews", "").status)
	}
	a = e.api(t, http.MethodGet, loc+"/reviews", "")
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "RESOURCE_EXHAUSTED", errStatus(a))
	require.Equal(t, "30", a.header.Get("Retry-After"), "until the next minute")
	e.advance(30 * time.Second)
	require.Equal(t, http.StatusOK, e.api(t, http.MethodGet, loc+"/reviews", "").status, "a new minute, a new quota")
	require.Equal(t, 4, e.sb.Requests())
}

func TestJWKSAndTokens(t *testing.T) {
	t.Parallel()
	e := setup(t)
	keys := func() jose.JSONWebKeySet {
		a := e.do(t, http.MethodGet, "/oauth2/v3/certs", "", "", "")
		require.Equal(t, http.StatusOK, a.status)
		var set jose.JSONWebKeySet
		require.NoError(t, json.Unmarshal(a.raw, &set))
		return set
	}
	require.Len(t, keys().Keys, 1)

	tok, err := e.sb.Token("https://neksio.example.com/hook", sandbox.PushOptions{})
	require.NoError(t, err)
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	require.Equal(t, e.sb.KeyID(), parsed.Headers[0].KeyID)
	var claims struct {
		jwt.Claims
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	require.NoError(t, parsed.Claims(keys().Keys[0].Key, &claims))
	require.Equal(t, sandbox.Issuer, claims.Issuer)
	require.Equal(t, jwt.Audience{"https://neksio.example.com/hook"}, claims.Audience)
	require.Equal(t, sandbox.DefaultServiceAccount, claims.Email)
	require.True(t, claims.EmailVerified)
	require.Equal(t, e.now.Add(time.Hour), claims.Expiry.Time().UTC())

	old := e.sb.KeyID()
	kid := e.sb.RotateKey()
	set := keys()
	require.Len(t, set.Keys, 2, "the previous key stays published")
	require.Len(t, set.Key(old), 1)
	require.Len(t, set.Key(kid), 1)
	e.sb.RotateKey()
	set = keys()
	require.Len(t, set.Keys, 2)
	require.Empty(t, set.Key(old), "two rotations later the first key is gone")
	require.Equal(t, 4, e.sb.JWKSFetches())
}

func TestPushAndControlEndpoints(t *testing.T) {
	t.Parallel()
	e := setup(t)
	type delivery struct {
		auth string
		body map[string]any
		data map[string]string
	}
	got := make(chan delivery, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d delivery
		d.auth = r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&d.body)
		if msg, ok := d.body["message"].(map[string]any); ok {
			raw, _ := base64.StdEncoding.DecodeString(msg["data"].(string))
			_ = json.Unmarshal(raw, &d.data)
		}
		got <- d
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	// Without a push target, changes push nothing.
	a := e.do(t, http.MethodPost, "/_sandbox/google/reviews", "", "application/json", `{"location":"accounts/1/locations/2","stars":5,"text":"hi","reviewer":"Al"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.EqualValues(t, 0, a.body["push_status"])

	a = e.do(t, http.MethodPost, "/_sandbox/google/push-target", "", "application/json", `{"url":"`+receiver.URL+`/webhooks/google","audience":"aud-1"}`)
	require.Equal(t, http.StatusOK, a.status)

	a = e.do(t, http.MethodPost, "/_sandbox/google/reviews", "", "application/json",
		`{"location":"accounts/5/locations/6","stars":2,"text":"Cold coffee","reviewer":"Bo"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.EqualValues(t, http.StatusNoContent, a.body["push_status"])
	name := a.body["review"].(map[string]any)["name"].(string)
	require.True(t, strings.HasPrefix(name, "accounts/5/locations/6/reviews/"), "an unknown location is created")
	d := <-got
	require.True(t, strings.HasPrefix(d.auth, "Bearer "))
	require.Equal(t, map[string]string{"notificationType": "NEW_REVIEW", "reviewName": name, "locationName": "accounts/5/locations/6"}, d.data)
	require.Equal(t, sandbox.Subscription, d.body["subscription"])
	parsed, err := jwt.ParseSigned(strings.TrimPrefix(d.auth, "Bearer "), []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	var claims jwt.Claims
	require.NoError(t, parsed.UnsafeClaimsWithoutVerification(&claims))
	require.Equal(t, jwt.Audience{"aud-1"}, claims.Audience)

	a = e.do(t, http.MethodPatch, "/_sandbox/google/"+name, "", "application/json", `{"stars":4,"text":"Better now"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "UPDATED_REVIEW", (<-got).data["notificationType"])
	rv, ok := e.sb.Review(name)
	require.True(t, ok)
	require.Equal(t, "Better now", rv.Comment)
	require.Equal(t, "FOUR", rv.StarRating)

	a = e.do(t, http.MethodPost, "/_sandbox/google/"+name+"/reply", "", "application/json", `{"text":"Thanks"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "UPDATED_REVIEW", (<-got).data["notificationType"])

	a = e.do(t, http.MethodDelete, "/_sandbox/google/"+name, "", "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "UPDATED_REVIEW", (<-got).data["notificationType"], "a deletion pushes, so the deleted path can be exercised")
	_, ok = e.sb.Review(name)
	require.False(t, ok)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodDelete, "/_sandbox/google/"+name, "", "", "").status)

	a = e.do(t, http.MethodPost, "/_sandbox/google/grant", "", "application/json", `{"accounts":["1"]}`)
	require.Equal(t, http.StatusOK, a.status)
	access := a.body["access_token"].(string)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, loc+"/reviews", access, "", "").status)
	a = e.do(t, http.MethodPost, "/_sandbox/google/revoke", "", "application/json", `{"refresh_token":"`+a.body["refresh_token"].(string)+`"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, http.StatusUnauthorized, e.do(t, http.MethodGet, loc+"/reviews", access, "", "").status)

	a = e.do(t, http.MethodPost, "/_sandbox/google/rotate-key", "", "", "")
	require.Equal(t, e.sb.KeyID(), a.body["kid"])

	require.Equal(t, http.StatusOK, e.do(t, http.MethodPost, "/_sandbox/google/fail", "", "application/json", `{"count":1,"status":500}`).status)
	require.Equal(t, http.StatusInternalServerError, e.api(t, http.MethodGet, loc+"/reviews", "").status)
	require.Equal(t, http.StatusBadRequest, e.do(t, http.MethodPost, "/_sandbox/google/fail", "", "application/json", `{"count":1,"status":200}`).status)

	post := e.api(t, http.MethodPost, loc+"/localPosts", `{"topicType":"STANDARD","summary":"x"}`).body["name"].(string)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodPost, "/_sandbox/google/"+post+"/state", "", "application/json", `{"state":"REJECTED"}`).status)
	require.Equal(t, "REJECTED", e.api(t, http.MethodGet, "/v4/"+post, "").body["state"])

	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/_sandbox/google/posts", "", "", "").status)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/_sandbox/google/replies", "", "", "").status)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodPost, "/_sandbox/google/locations", "", "application/json", `{"account":"9","location":"10","title":"New"}`).status)
	require.Equal(t, http.StatusBadRequest, e.do(t, http.MethodPost, "/_sandbox/google/reviews", "", "application/json", `{"location":"nowhere"}`).status)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, "/_sandbox/google/unknown", "", "", "").status)
}

func TestPushHelper(t *testing.T) {
	t.Parallel()
	e := setup(t)
	auth := make(chan string, 2)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
	}))
	t.Cleanup(receiver.Close)
	ctx := context.Background()
	resp, err := e.sb.Push(ctx, nil, receiver.URL, sandbox.Notification("NEW_REVIEW", "accounts/1/locations/2/reviews/3"), sandbox.PushOptions{})
	require.NoError(t, err)
	resp.Body.Close()
	require.True(t, strings.HasPrefix(<-auth, "Bearer ey"))
	resp, err = e.sb.PushBody(ctx, receiver.Client(), receiver.URL, []byte(`{}`), sandbox.PushOptions{NoToken: true})
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, <-auth)

	require.NotEqual(t, e.sb.NextMessageID(), e.sb.NextMessageID())
	a, l, err := sandbox.ParseLocation("accounts/1/locations/2")
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2"}, []string{a, l})
}
