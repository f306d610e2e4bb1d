package sandbox

import (
	"cmp"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits Google states and the emulator enforces.
const (
	MaxReplyBytes    = 4096
	MaxSummaryLength = 1500
	// DefaultQuota is Google's default: 300 requests a minute per project.
	DefaultQuota = 300
	// AccessTokenTTL is how long an access token lives.
	AccessTokenTTL = time.Hour
	maxReviewsPage = 50
	maxPostsPage   = 100
	maxAccountPage = 20
	maxLocPage     = 100
)

// Resource names of Google's public APIs. The connector and the emulator
// speak the same JSON; these are the emulator's copies.

// Review is a Business Profile review as the v4 API answers it.
type Review struct {
	Name        string       `json:"name"`
	ReviewID    string       `json:"reviewId"`
	Reviewer    Reviewer     `json:"reviewer"`
	StarRating  string       `json:"starRating"`
	Comment     string       `json:"comment,omitempty"`
	CreateTime  string       `json:"createTime"`
	UpdateTime  string       `json:"updateTime"`
	ReviewReply *ReviewReply `json:"reviewReply,omitempty"`
}

// Reviewer is the author of a review.
type Reviewer struct {
	DisplayName     string `json:"displayName,omitempty"`
	ProfilePhotoURL string `json:"profilePhotoUrl,omitempty"`
	IsAnonymous     bool   `json:"isAnonymous,omitempty"`
}

// ReviewReply is the business's reply to a review.
type ReviewReply struct {
	Comment    string `json:"comment"`
	UpdateTime string `json:"updateTime,omitempty"`
}

// LocalPost is a Business Profile post.
type LocalPost struct {
	Name         string        `json:"name,omitempty"`
	LanguageCode string        `json:"languageCode,omitempty"`
	Summary      string        `json:"summary,omitempty"`
	CallToAction *CallToAction `json:"callToAction,omitempty"`
	Event        *PostEvent    `json:"event,omitempty"`
	Offer        *PostOffer    `json:"offer,omitempty"`
	Media        []MediaItem   `json:"media,omitempty"`
	TopicType    string        `json:"topicType,omitempty"`
	State        string        `json:"state,omitempty"`
	SearchURL    string        `json:"searchUrl,omitempty"`
	CreateTime   string        `json:"createTime,omitempty"`
	UpdateTime   string        `json:"updateTime,omitempty"`
}

// CallToAction is a post's button.
type CallToAction struct {
	ActionType string `json:"actionType"`
	URL        string `json:"url,omitempty"`
}

// PostEvent is an event post's title and schedule (offers use it too).
type PostEvent struct {
	Title    string        `json:"title"`
	Schedule *TimeInterval `json:"schedule,omitempty"`
}

// TimeInterval is an event's schedule, in the location's time zone.
type TimeInterval struct {
	StartDate *Date      `json:"startDate,omitempty"`
	StartTime *TimeOfDay `json:"startTime,omitempty"`
	EndDate   *Date      `json:"endDate,omitempty"`
	EndTime   *TimeOfDay `json:"endTime,omitempty"`
}

// Date is a calendar date.
type Date struct {
	Year  int `json:"year"`
	Month int `json:"month"`
	Day   int `json:"day"`
}

// TimeOfDay is a wall-clock time.
type TimeOfDay struct {
	Hours   int `json:"hours"`
	Minutes int `json:"minutes"`
	Seconds int `json:"seconds"`
	Nanos   int `json:"nanos"`
}

// PostOffer is an offer post's details.
type PostOffer struct {
	CouponCode      string `json:"couponCode,omitempty"`
	RedeemOnlineURL string `json:"redeemOnlineUrl,omitempty"`
	TermsConditions string `json:"termsConditions,omitempty"`
}

// MediaItem is a post's photo.
type MediaItem struct {
	MediaFormat string `json:"mediaFormat"`
	SourceURL   string `json:"sourceUrl"`
}

// ReplyCall is one reply put or delete the emulator served.
type ReplyCall struct {
	Review  string
	Method  string // PUT or DELETE
	Comment string
	At      time.Time
}

// Tokens are the credentials of a grant.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the emulator's clock (timestamps, token expiry, quota
// windows, push token times).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithClient makes the token endpoint accept only this OAuth client. By
// default any non-empty client id is accepted.
func WithClient(id, secret string) Option {
	return func(s *Server) { s.clientID, s.clientSecret = id, secret }
}

// WithPostPolls sets how many reads (GET or list) of a new local post
// answer PROCESSING before its final state (default 0: the first read
// answers LIVE).
func WithPostPolls(n int) Option {
	return func(s *Server) { s.postPolls = max(n, 0) }
}

// WithQuota sets the requests a minute the API endpoints serve before
// answering 429 (default DefaultQuota; zero or less disables it).
func WithQuota(n int) Option {
	return func(s *Server) { s.quota = n }
}

// WithSigningKey signs push tokens with key (kid "sandbox-1") instead of
// a fresh one: generating RSA keys is slow, and tests may share one.
func WithSigningKey(key *rsa.PrivateKey) Option {
	return func(s *Server) { s.keys = []signingKey{{id: "sandbox-1", priv: key}} }
}

type account struct{ id, name string }

type location struct{ account, id, title string }

func (l location) name() string { return "accounts/" + l.account + "/locations/" + l.id }

type review struct {
	seq              int
	loc              location
	id               string
	reviewer, photo  string
	anonymous        bool
	stars            int
	comment          string
	created, updated time.Time
	reply            *ReviewReply
	deleted          bool
}

func (r *review) name() string { return r.loc.name() + "/reviews/" + r.id }

type post struct {
	seq       int
	loc       location
	body      LocalPost
	pollsLeft int
	final     string
	created   time.Time
}

type grant struct {
	refresh  string
	accounts []string // nil: every account
	scopes   string
	revoked  bool
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

type authCode struct {
	clientID, redirectURI string
	scopes                string
	offline               bool
	expires               time.Time
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// Server is the emulator. Its zero value is not usable: call New.
type Server struct {
	now          func() time.Time
	clientID     string
	clientSecret string
	postPolls    int
	quota        int

	mu          sync.Mutex
	seq         int
	accounts    map[string]*account
	locations   map[string]*location // "a/l"
	reviews     map[string]*review   // by name
	posts       map[string]*post     // by name
	rejectNext  bool
	grants      map[string]*grant       // by refresh token
	access      map[string]*accessToken // by access token
	codes       map[string]*authCode
	failures    []failure
	replies     []ReplyCall
	window      time.Time
	windowCount int
	requests    int
	keys        []signingKey
	jwksFetches int
	target      *PushTarget
	messageSeq  int
}

// New returns an emulator with no accounts.
func New(opts ...Option) *Server {
	s := &Server{
		now:       time.Now,
		quota:     DefaultQuota,
		accounts:  map[string]*account{},
		locations: map[string]*location{},
		reviews:   map[string]*review{},
		posts:     map[string]*post{},
		grants:    map[string]*grant{},
		access:    map[string]*accessToken{},
		codes:     map[string]*authCode{},
	}
	for _, o := range opts {
		o(s)
	}
	if len(s.keys) == 0 {
		s.keys = []signingKey{newSigningKey(1)}
	}
	return s
}

func (s *Server) next() int {
	s.seq++
	return s.seq
}

// AddAccount registers a Business Profile account ("accounts/{id}").
func (s *Server) AddAccount(accountID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[accountID] = &account{id: accountID, name: name}
}

// AddLocation registers a location of an account (creating the account
// when needed): "accounts/{accountID}/locations/{locationID}".
func (s *Server) AddLocation(accountID, locationID, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocation(accountID, locationID, title)
}

func (s *Server) addLocation(accountID, locationID, title string) *location {
	if _, ok := s.accounts[accountID]; !ok {
		s.accounts[accountID] = &account{id: accountID, name: "Account " + accountID}
	}
	l := &location{account: accountID, id: locationID, title: title}
	s.locations[accountID+"/"+locationID] = l
	return l
}

// Grant issues credentials over the given account ids (every account when
// none), as a completed consent would.
func (s *Server) Grant(accountIDs ...string) Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &grant{refresh: s.token("1//refresh-"), scopes: "https://www.googleapis.com/auth/business.manage"}
	if len(accountIDs) > 0 {
		g.accounts = slices.Clone(accountIDs)
	}
	s.grants[g.refresh] = g
	at, exp := s.issueAccess(g)
	return Tokens{AccessToken: at, RefreshToken: g.refresh, ExpiresAt: exp}
}

func (s *Server) token(prefix string) string { return prefix + strconv.Itoa(s.next()) }

func (s *Server) issueAccess(g *grant) (string, time.Time) {
	at := s.token("ya29.sandbox-")
	exp := s.now().Add(AccessTokenTTL)
	s.access[at] = &accessToken{grant: g, expires: exp}
	return at, exp
}

// RevokeRefreshToken revokes a grant, as the person would from their
// Google account: refreshes answer invalid_grant and its access tokens
// stop working.
func (s *Server) RevokeRefreshToken(refreshToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[refreshToken]
	if ok {
		g.revoked = true
	}
	return ok
}

// ExpireAccessToken makes an access token expired.
func (s *Server) ExpireAccessToken(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.access[accessToken]; ok {
		a.expires = s.now().Add(-time.Second)
	}
}

// NewReview describes a review a customer writes.
type NewReview struct {
	Reviewer  string
	PhotoURL  string
	Anonymous bool
	// Stars is 1 to 5; 0 leaves the rating unspecified.
	Stars int
	Text  string
	// At is when it was written (default: now).
	At time.Time
}

// CreateReview adds a review to a location (created when unknown) and
// returns it.
func (s *Server) CreateReview(accountID, locationID string, in NewReview) Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locations[accountID+"/"+locationID]
	if !ok {
		l = s.addLocation(accountID, locationID, "Location "+locationID)
	}
	at := in.At
	if at.IsZero() {
		at = s.now()
	}
	r := &review{seq: s.next(), loc: *l, reviewer: in.Reviewer, photo: in.PhotoURL, anonymous: in.Anonymous,
		stars: in.Stars, comment: in.Text, created: at, updated: at}
	r.id = "r" + strconv.Itoa(r.seq)
	s.reviews[r.name()] = r
	return r.wire()
}

// EditReview changes a review's rating and text, as its author would.
func (s *Server) EditReview(name string, stars int, text string, at time.Time) (Review, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reviews[name]
	if !ok || r.deleted {
		return Review{}, fmt.Errorf("sandbox: no review %q", name)
	}
	if at.IsZero() {
		at = s.now()
	}
	r.stars, r.comment, r.updated = stars, text, at
	r.seq = s.next() // breaks updateTime ties: the latest change sorts first
	return r.wire(), nil
}

// DeleteReview removes a review, as its author or Google would.
func (s *Server) DeleteReview(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reviews[name]
	if !ok || r.deleted {
		return fmt.Errorf("sandbox: no review %q", name)
	}
	r.deleted = true
	return nil
}

// SetReply sets a review's reply as if written in Google's own interface.
func (s *Server) SetReply(name, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reviews[name]
	if !ok || r.deleted {
		return fmt.Errorf("sandbox: no review %q", name)
	}
	r.reply = &ReviewReply{Comment: text, UpdateTime: stamp(s.now())}
	return nil
}

// Review returns a review, deleted or not.
func (s *Server) Review(name string) (Review, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reviews[name]
	if !ok || r.deleted {
		return Review{}, false
	}
	return r.wire(), true
}

// Replies returns every reply put and delete served so far.
func (s *Server) Replies() []ReplyCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.replies)
}

// Posts returns every local post created, oldest first.
func (s *Server) Posts() []LocalPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*post
	for _, p := range s.posts {
		all = append(all, p)
	}
	slices.SortFunc(all, func(a, b *post) int { return a.seq - b.seq })
	out := make([]LocalPost, len(all))
	for i, p := range all {
		out[i] = p.body
	}
	return out
}

// RejectNextPost makes the next local post created end REJECTED instead
// of LIVE, as a post breaking Google's content policy does.
func (s *Server) RejectNextPost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectNext = true
}

// SetPostState forces a local post's state (LIVE, REJECTED, PROCESSING).
func (s *Server) SetPostState(name, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[name]
	if !ok {
		return fmt.Errorf("sandbox: no local post %q", name)
	}
	p.pollsLeft, p.final, p.body.State = 0, state, state
	return nil
}

// FailNext makes the next n API or token calls fail with httpStatus
// (429, 500, 503, ...), with a Retry-After header when retryAfter > 0.
func (s *Server) FailNext(n, httpStatus int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{httpStatus, retryAfter})
	}
}

// Requests counts the API calls served (OAuth, JWKS and control
// endpoints excluded).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

var starNames = []string{"STAR_RATING_UNSPECIFIED", "ONE", "TWO", "THREE", "FOUR", "FIVE"}

func (r *review) wire() Review {
	out := Review{Name: r.name(), ReviewID: r.id, Comment: r.comment,
		CreateTime: stamp(r.created), UpdateTime: stamp(r.updated), StarRating: starNames[0]}
	if r.stars >= 1 && r.stars <= 5 {
		out.StarRating = starNames[r.stars]
	}
	if r.anonymous {
		out.Reviewer = Reviewer{DisplayName: "A Google User", IsAnonymous: true}
	} else {
		out.Reviewer = Reviewer{DisplayName: r.reviewer, ProfilePhotoURL: r.photo}
	}
	if r.reply != nil {
		cp := *r.reply
		out.ReviewReply = &cp
	}
	return out
}

// apiError writes Google's error shape.
func apiError(w http.ResponseWriter, code int, message string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": statusName(code)}})
}

func statusName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	default:
		if code >= 500 {
			return "INTERNAL"
		}
		return "FAILED_PRECONDITION"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP routes every emulated endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/_sandbox/google/"):
		s.control(w, r, strings.TrimPrefix(path, "/_sandbox/google/"))
	case path == "/oauth2/v3/certs":
		s.serveJWKS(w)
	case path == "/o/oauth2/v2/auth":
		s.authorize(w, r)
	case path == "/token":
		s.tokenEndpoint(w, r)
	case path == "/revoke":
		s.revoke(w, r)
	case strings.HasPrefix(path, "/v4/"), strings.HasPrefix(path, "/accountmanagement/v1/"),
		strings.HasPrefix(path, "/businessinformation/v1/"):
		s.api(w, r)
	default:
		apiError(w, http.StatusNotFound, "The requested URL "+path+" was not found on this server.")
	}
}

// gate applies the quota and injected failures; s.mu must be held. It
// reports whether the call may go on.
func (s *Server) gate(w http.ResponseWriter, oauth bool) bool {
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter.Seconds())))
		}
		if oauth {
			writeJSON(w, f.status, map[string]string{"error": strings.ToLower(statusName(f.status))})
		} else {
			apiError(w, f.status, "injected failure")
		}
		return false
	}
	if oauth || s.quota <= 0 {
		return true
	}
	now := s.now()
	if now.Sub(s.window) >= time.Minute || now.Before(s.window) {
		s.window, s.windowCount = now.Truncate(time.Minute), 0
	}
	if s.windowCount >= s.quota {
		wait := s.window.Add(time.Minute).Sub(now)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
		apiError(w, http.StatusTooManyRequests, "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'mybusiness.googleapis.com'.")
		return false
	}
	s.windowCount++
	return true
}

// authorized resolves the bearer token; s.mu must be held.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) (*grant, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a := s.access[strings.TrimSpace(tok)]
	if !ok || a == nil || a.grant.revoked || !s.now().Before(a.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		apiError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return nil, false
	}
	return a.grant, true
}

func (g *grant) allows(accountID string) bool {
	return g.accounts == nil || slices.Contains(g.accounts, accountID)
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gate(w, false) {
		return
	}
	g, ok := s.authorized(w, r)
	if !ok {
		return
	}
	s.requests++
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/v4/"):
		s.v4(w, r, g, strings.Split(strings.Trim(strings.TrimPrefix(path, "/v4/"), "/"), "/"))
	case path == "/accountmanagement/v1/accounts" && r.Method == http.MethodGet:
		s.listAccounts(w, r, g)
	case strings.HasPrefix(path, "/businessinformation/v1/"):
		s.businessInfo(w, r, g, strings.Split(strings.Trim(strings.TrimPrefix(path, "/businessinformation/v1/"), "/"), "/"))
	default:
		apiError(w, http.StatusNotFound, "Method not found.")
	}
}

// pageToken encodes an offset into a list; Google's tokens are opaque.
func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func parsePage(r *http.Request, def, maxSize int) (offset, size int, err error) {
	size = def
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("pageSize must be a non-negative integer")
		}
		if n > 0 {
			size = min(n, maxSize)
		}
	}
	if v := r.URL.Query().Get("pageToken"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		n, cerr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || cerr != nil || !strings.HasPrefix(string(raw), "offset:") || n < 0 {
			return 0, 0, fmt.Errorf("invalid page token")
		}
		offset = n
	}
	return offset, size, nil
}

func page[T any](items []T, offset, size int) ([]T, string) {
	if offset >= len(items) {
		return []T{}, ""
	}
	end := min(offset+size, len(items))
	next := ""
	if end < len(items) {
		next = pageToken(end)
	}
	return items[offset:end], next
}

func (s *Server) v4(w http.ResponseWriter, r *http.Request, g *grant, segs []string) {
	// accounts/{a}/locations/{l}/(reviews|localPosts)[/{id}[/reply]]
	if len(segs) < 5 || segs[0] != "accounts" || segs[2] != "locations" {
		apiError(w, http.StatusNotFound, "Method not found.")
		return
	}
	if !g.allows(segs[1]) {
		apiError(w, http.StatusForbidden, "The caller does not have permission")
		return
	}
	l, ok := s.locations[segs[1]+"/"+segs[3]]
	if !ok {
		apiError(w, http.StatusNotFound, "Requested entity was not found.")
		return
	}
	switch {
	case segs[4] == "reviews" && len(segs) == 5 && r.Method == http.MethodGet:
		s.listReviews(w, r, l)
	case segs[4] == "reviews" && len(segs) == 6 && r.Method == http.MethodGet:
		rv := s.reviews[strings.Join(segs, "/")]
		if rv == nil || rv.deleted {
			apiError(w, http.StatusNotFound, "Requested entity was not found.")
			return
		}
		writeJSON(w, http.StatusOK, rv.wire())
	case segs[4] == "reviews" && len(segs) == 7 && segs[6] == "reply":
		s.reply(w, r, strings.Join(segs[:6], "/"))
	case segs[4] == "localPosts" && len(segs) == 5 && r.Method == http.MethodPost:
		s.createPost(w, r, l)
	case segs[4] == "localPosts" && len(segs) == 5 && r.Method == http.MethodGet:
		s.listPosts(w, r, l)
	case segs[4] == "localPosts" && len(segs) == 6 && r.Method == http.MethodGet:
		p := s.posts[strings.Join(segs, "/")]
		if p == nil {
			apiError(w, http.StatusNotFound, "Requested entity was not found.")
			return
		}
		writeJSON(w, http.StatusOK, s.poll(p))
	default:
		apiError(w, http.StatusNotFound, "Method not found.")
	}
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, l *location) {
	offset, size, err := parsePage(r, maxReviewsPage, maxReviewsPage)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var all []*review
	for _, rv := range s.reviews {
		if rv.loc == *l && !rv.deleted {
			all = append(all, rv)
		}
	}
	byNewest := func(a, b *review) int {
		return cmp.Or(b.updated.Compare(a.updated), b.seq-a.seq)
	}
	switch order := r.URL.Query().Get("orderBy"); order {
	case "", "updateTime desc":
		slices.SortFunc(all, byNewest)
	case "rating":
		slices.SortFunc(all, func(a, b *review) int { return cmp.Or(a.stars-b.stars, byNewest(a, b)) })
	case "rating desc":
		slices.SortFunc(all, func(a, b *review) int { return cmp.Or(b.stars-a.stars, byNewest(a, b)) })
	default:
		apiError(w, http.StatusBadRequest, "Invalid orderBy: "+order)
		return
	}
	sum := 0
	rated := 0
	for _, rv := range all {
		if rv.stars > 0 {
			sum += rv.stars
			rated++
		}
	}
	items, next := page(all, offset, size)
	out := struct {
		Reviews          []Review `json:"reviews"`
		AverageRating    float64  `json:"averageRating,omitempty"`
		TotalReviewCount int      `json:"totalReviewCount"`
		NextPageToken    string   `json:"nextPageToken,omitempty"`
	}{Reviews: []Review{}, TotalReviewCount: len(all), NextPageToken: next}
	if rated > 0 {
		out.AverageRating = float64(sum) / float64(rated)
	}
	for _, rv := range items {
		out.Reviews = append(out.Reviews, rv.wire())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, name string) {
	rv := s.reviews[name]
	if rv == nil || rv.deleted {
		apiError(w, http.StatusNotFound, "Requested entity was not found.")
		return
	}
	switch r.Method {
	case http.MethodPut:
		var in struct {
			Comment string `json:"comment"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			apiError(w, http.StatusBadRequest, "Invalid JSON payload received.")
			return
		}
		if strings.TrimSpace(in.Comment) == "" {
			apiError(w, http.StatusBadRequest, "Request contains an invalid argument: comment is required.")
			return
		}
		if len(in.Comment) > MaxReplyBytes {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("Request contains an invalid argument: comment is longer than %d bytes.", MaxReplyBytes))
			return
		}
		now := s.now()
		rv.reply = &ReviewReply{Comment: in.Comment, UpdateTime: stamp(now)}
		s.replies = append(s.replies, ReplyCall{Review: name, Method: http.MethodPut, Comment: in.Comment, At: now})
		writeJSON(w, http.StatusOK, rv.reply)
	case http.MethodDelete:
		if rv.reply == nil {
			apiError(w, http.StatusNotFound, "Requested entity was not found.")
			return
		}
		rv.reply = nil
		s.replies = append(s.replies, ReplyCall{Review: name, Method: http.MethodDelete, At: s.now()})
		writeJSON(w, http.StatusOK, struct{}{})
	default:
		apiError(w, http.StatusNotFound, "Method not found.")
	}
}

var actionTypes = []string{"BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL", "GET_OFFER"}

// validatePost checks what Google checks on create.
func validatePost(p *LocalPost) string {
	switch p.TopicType {
	case "STANDARD", "EVENT", "OFFER":
	case "":
		return "topicType is required"
	default:
		return "unsupported topicType " + p.TopicType
	}
	if n := len([]rune(p.Summary)); n > MaxSummaryLength {
		return fmt.Sprintf("summary is %d characters, more than %d", n, MaxSummaryLength)
	}
	if p.TopicType == "STANDARD" && p.Summary == "" && len(p.Media) == 0 {
		return "a STANDARD post needs a summary or a photo"
	}
	if p.TopicType != "STANDARD" {
		if p.Event == nil || p.Event.Title == "" || p.Event.Schedule == nil ||
			p.Event.Schedule.StartDate == nil || p.Event.Schedule.EndDate == nil {
			return "event with a title and a schedule (startDate, endDate) is required for topic type " + p.TopicType
		}
	}
	if p.Offer != nil && p.TopicType != "OFFER" {
		return "offer is only allowed for topic type OFFER"
	}
	if c := p.CallToAction; c != nil {
		if !slices.Contains(actionTypes, c.ActionType) {
			return "unsupported callToAction.actionType " + c.ActionType
		}
		if c.ActionType == "CALL" && c.URL != "" {
			return "callToAction.url must be unset for CALL"
		}
		if c.ActionType != "CALL" && c.URL == "" {
			return "callToAction.url is required for " + c.ActionType
		}
	}
	if len(p.Media) > 1 {
		return "at most one photo"
	}
	for _, m := range p.Media {
		if m.MediaFormat != "PHOTO" {
			return "unsupported mediaFormat " + m.MediaFormat
		}
		if u, err := url.Parse(m.SourceURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "media sourceUrl must be an http(s) URL"
		}
	}
	return ""
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request, l *location) {
	var in LocalPost
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		apiError(w, http.StatusBadRequest, "Invalid JSON payload received.")
		return
	}
	if msg := validatePost(&in); msg != "" {
		apiError(w, http.StatusBadRequest, "Request contains an invalid argument: "+msg)
		return
	}
	now := s.now()
	p := &post{seq: s.next(), loc: *l, body: in, pollsLeft: s.postPolls, final: "LIVE", created: now}
	if s.rejectNext {
		p.final, s.rejectNext = "REJECTED", false
	}
	id := strconv.Itoa(9000 + p.seq)
	p.body.Name = l.name() + "/localPosts/" + id
	p.body.State = "PROCESSING"
	p.body.CreateTime, p.body.UpdateTime = stamp(now), stamp(now)
	p.body.SearchURL = "https://local.google.com/place?id=" + l.id + "&use=posts&lpsid=" + id
	s.posts[p.body.Name] = p
	writeJSON(w, http.StatusOK, p.body)
}

// poll advances a post towards its final state, one GET at a time.
func (s *Server) poll(p *post) LocalPost {
	if p.body.State == "PROCESSING" {
		if p.pollsLeft > 0 {
			p.pollsLeft--
		} else {
			p.body.State = p.final
		}
	}
	return p.body
}

func (s *Server) listPosts(w http.ResponseWriter, r *http.Request, l *location) {
	offset, size, err := parsePage(r, 20, maxPostsPage)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var all []*post
	for _, p := range s.posts {
		if p.loc == *l {
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b *post) int { return b.seq - a.seq })
	items, next := page(all, offset, size)
	out := struct {
		LocalPosts    []LocalPost `json:"localPosts,omitempty"`
		NextPageToken string      `json:"nextPageToken,omitempty"`
	}{NextPageToken: next}
	for _, p := range items {
		out.LocalPosts = append(out.LocalPosts, s.poll(p)) // a read, like a GET
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, g *grant) {
	offset, size, err := parsePage(r, maxAccountPage, maxAccountPage)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var ids []string
	for id := range s.accounts {
		if g.allows(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	items, next := page(ids, offset, size)
	type acct struct {
		Name        string `json:"name"`
		AccountName string `json:"accountName"`
		Type        string `json:"type"`
	}
	out := struct {
		Accounts      []acct `json:"accounts,omitempty"`
		NextPageToken string `json:"nextPageToken,omitempty"`
	}{NextPageToken: next}
	for _, id := range items {
		out.Accounts = append(out.Accounts, acct{Name: "accounts/" + id, AccountName: s.accounts[id].name, Type: "LOCATION_GROUP"})
	}
	writeJSON(w, http.StatusOK, out)
}

type wireLocation struct {
	Name  string `json:"name,omitempty"`
	Title string `json:"title,omitempty"`
}

// readMasked answers only the fields named in readMask, which Business
// Information requires.
func readMasked(r *http.Request, l *location) (wireLocation, string) {
	mask := r.URL.Query().Get("readMask")
	if mask == "" {
		return wireLocation{}, "readMask is required"
	}
	var out wireLocation
	for _, f := range strings.Split(mask, ",") {
		switch strings.TrimSpace(f) {
		case "name":
			out.Name = "locations/" + l.id
		case "title":
			out.Title = l.title
		default:
			// Other fields exist at Google; the emulator has none to give.
		}
	}
	return out, ""
}

func (s *Server) businessInfo(w http.ResponseWriter, r *http.Request, g *grant, segs []string) {
	switch {
	// accounts/{a}/locations
	case len(segs) == 3 && segs[0] == "accounts" && segs[2] == "locations" && r.Method == http.MethodGet:
		if !g.allows(segs[1]) {
			apiError(w, http.StatusForbidden, "The caller does not have permission")
			return
		}
		offset, size, err := parsePage(r, 10, maxLocPage)
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		var locs []*location
		for _, l := range s.locations {
			if l.account == segs[1] {
				locs = append(locs, l)
			}
		}
		slices.SortFunc(locs, func(a, b *location) int { return strings.Compare(a.id, b.id) })
		items, next := page(locs, offset, size)
		out := struct {
			Locations     []wireLocation `json:"locations,omitempty"`
			NextPageToken string         `json:"nextPageToken,omitempty"`
			TotalSize     int            `json:"totalSize"`
		}{NextPageToken: next, TotalSize: len(locs)}
		for _, l := range items {
			wl, msg := readMasked(r, l)
			if msg != "" {
				apiError(w, http.StatusBadRequest, msg)
				return
			}
			out.Locations = append(out.Locations, wl)
		}
		writeJSON(w, http.StatusOK, out)
	// locations/{l}
	case len(segs) == 2 && segs[0] == "locations" && r.Method == http.MethodGet:
		for _, l := range s.locations {
			if l.id != segs[1] {
				continue
			}
			if !g.allows(l.account) {
				apiError(w, http.StatusForbidden, "The caller does not have permission")
				return
			}
			wl, msg := readMasked(r, l)
			if msg != "" {
				apiError(w, http.StatusBadRequest, msg)
				return
			}
			writeJSON(w, http.StatusOK, wl)
			return
		}
		apiError(w, http.StatusNotFound, "Requested entity was not found.")
	default:
		apiError(w, http.StatusNotFound, "Method not found.")
	}
}
