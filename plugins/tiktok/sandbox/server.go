package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits the emulator enforces like the platform.
const (
	// DMWindow and DMCap: a business answers within 48 hours of the
	// customer's last message, at most 10 messages in that time.
	DMWindow = 48 * time.Hour
	DMCap    = 10
	// MaxDMLength and MaxCommentLength bound message and comment text.
	MaxDMLength      = 6000
	MaxCommentLength = 150
	// MaxCaptionLength bounds a post's title, in UTF-16 units.
	MaxCaptionLength = 2200
)

// Business API codes the emulator answers with.
const (
	CodeNoPermission   = 40001
	CodeParamError     = 40002
	CodeNotFound       = 40007
	CodeMessageBlocked = 40064
	CodeRateLimited    = 40100
	CodeTokenEmpty     = 40104
	CodeTokenInvalid   = 40105
)

// Account is a TikTok account the emulator serves: a Login Kit user and,
// with the same open_id, a Business API business.
type Account struct {
	OpenID      string
	UnionID     string
	DisplayName string
	Username    string
	AvatarURL   string
	// PrivacyLevelOptions is what creator_info offers; a public account's
	// three options when empty.
	PrivacyLevelOptions     []string
	CommentDisabled         bool
	DuetDisabled            bool
	StitchDisabled          bool
	MaxVideoPostDurationSec int
}

// Sent is one message or comment reply the emulator accepted.
type Sent struct {
	ID   string
	Kind string // "message" or "comment_reply"
	// BusinessID is the account that sent it.
	BusinessID     string
	ConversationID string // messages
	CustomerID     string // messages
	VideoID        string // comment replies
	CommentID      string // comment replies: the comment answered
	ParentID       string // comment replies: the top-level comment
	Text           string
	At             time.Time
}

// Publication is one video post the emulator accepted.
type Publication struct {
	PublishID      string
	OpenID         string
	Title          string
	PrivacyLevel   string
	VideoURL       string
	DisableComment bool
	DisableDuet    bool
	DisableStitch  bool
	BrandContent   bool
	BrandOrganic   bool
	AIGC           bool
	// Status is PROCESSING_DOWNLOAD, PUBLISH_COMPLETE or FAILED.
	Status     string
	FailReason string
	// VideoID is the video created on completion; PostID is set when the
	// post is public.
	VideoID string
	PostID  string
	At      time.Time
}

// Failure is an injected error answer.
type Failure struct {
	// API limits it to "open" (OAuth, user info, posting) or "business"
	// calls; empty matches any.
	API        string
	HTTPStatus int
	// Code is the API v2 error code (or OAuth error on the token
	// endpoint); BusinessCode the Business API's. Neither answers a plain
	// text body, as a proxy in front of the platform would.
	Code         string
	BusinessCode int
	Message      string
	RetryAfter   time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the emulator's clock (token expiry, DM windows, ids'
// timestamps).
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithApp sets the client key and secret the OAuth endpoints accept and
// webhooks are signed with (DefaultClientKey and DefaultClientSecret
// otherwise).
func WithApp(clientKey, clientSecret string) Option {
	return func(s *Server) { s.clientKey, s.clientSecret = clientKey, clientSecret }
}

// WithAudited makes the app audited: public posts are accepted.
// Unaudited (the default), only SELF_ONLY posts are.
func WithAudited(audited bool) Option {
	return func(s *Server) { s.audited = audited }
}

// WithStatusPolls sets how many status fetches of a new publication
// answer PROCESSING_DOWNLOAD before it completes (default 1).
func WithStatusPolls(n int) Option {
	return func(s *Server) { s.statusPolls = max(n, 0) }
}

// WithRefreshGrace keeps a rotated refresh token valid until its
// successor is first used. By default a refresh token stops working as
// soon as it is rotated, as TikTok documents.
func WithRefreshGrace() Option {
	return func(s *Server) { s.refreshGrace = true }
}

// WithTokenTTL sets access and refresh token lifetimes (24 h and 365 days
// by default).
func WithTokenTTL(access, refresh time.Duration) Option {
	return func(s *Server) { s.accessTTL, s.refreshTTL = access, refresh }
}

// WithDMWindow sets the reply window and the cap on the business's
// messages in it.
func WithDMWindow(window time.Duration, maxMessages int) Option {
	return func(s *Server) { s.dmWindow, s.dmCap = window, maxMessages }
}

// WithWebhookSink calls fn with the body of every webhook the platform
// would send on its own (message echoes, publication outcomes, removed
// authorizations). Calls run on their own goroutine once the API call
// that caused them has been answered; Flush waits for them.
func WithWebhookSink(fn func(body []byte)) Option {
	return func(s *Server) { s.sink = fn }
}

// WithWebhookURL posts those webhooks to url, signed with the app's
// client secret; failures are logged.
func WithWebhookURL(url string, client *http.Client) Option {
	return func(s *Server) {
		s.sink = func(body []byte) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			status, _, err := Deliver(ctx, client, url, s.clientSecret, body)
			if err != nil || status/100 != 2 {
				slog.Warn("sandbox: tiktok webhook not accepted", "url", url, "status", status, "error", err)
			}
		}
	}
}

type grant struct {
	openID  string
	scopes  []string
	revoked bool
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

type refreshToken struct {
	grant   *grant
	expires time.Time
	revoked bool
	// parent is the token this one replaced: with WithRefreshGrace it
	// stays valid until this one is used.
	parent string
}

type authCode struct {
	openID, redirectURI string
	scopes              []string
	expires             time.Time
	used                bool
}

type conversation struct {
	id, business, customer, name string
	lastInbound                  time.Time
	sent                         int // business messages since lastInbound
}

type video struct {
	id, business, caption string
	created               time.Time
}

type comment struct {
	id, video, parent, user, username, name, text string
	created                                       time.Time
	hidden, deleted, owner                        bool
	likes                                         int
}

type publication struct {
	Publication
	pollsLeft int
}

// Server is the emulator, an http.Handler. Its zero value is not usable:
// call New. It is safe for concurrent use.
type Server struct {
	now          func() time.Time
	clientKey    string
	clientSecret string
	audited      bool
	statusPolls  int
	refreshGrace bool
	accessTTL    time.Duration
	refreshTTL   time.Duration
	dmWindow     time.Duration
	dmCap        int
	sink         func(body []byte)
	pending      sync.WaitGroup
	// commentWebhooks: see WithCommentWebhooks.
	commentWebhooks bool

	mu           sync.Mutex
	changed      chan struct{}
	seq          int64
	accounts     map[string]*Account
	access       map[string]*accessToken
	refresh      map[string]*refreshToken
	codes        map[string]*authCode
	convs        map[string]*conversation
	videos       map[string]*video
	comments     map[string]*comment
	pubs         map[string]*publication
	failPublish  []string
	failures     []Failure
	sent         []Sent
	publications []string // publish ids in order
	requests     int
}

// New returns an emulator with no accounts.
func New(opts ...Option) *Server {
	s := &Server{
		now:          time.Now,
		clientKey:    DefaultClientKey,
		clientSecret: DefaultClientSecret,
		statusPolls:  1,
		accessTTL:    24 * time.Hour,
		refreshTTL:   365 * 24 * time.Hour,
		dmWindow:     DMWindow,
		dmCap:        DMCap,
		changed:      make(chan struct{}),
		accounts:     map[string]*Account{},
		access:       map[string]*accessToken{},
		refresh:      map[string]*refreshToken{},
		codes:        map[string]*authCode{},
		convs:        map[string]*conversation{},
		videos:       map[string]*video{},
		comments:     map[string]*comment{},
		pubs:         map[string]*publication{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ClientKey and ClientSecret are the emulated app's.
func (s *Server) ClientKey() string    { return s.clientKey }
func (s *Server) ClientSecret() string { return s.clientSecret }

// AddAccount registers an account. Its open_id is also its business_id.
func (s *Server) AddAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := a
	if len(cp.PrivacyLevelOptions) == 0 {
		cp.PrivacyLevelOptions = []string{"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"}
	}
	if cp.MaxVideoPostDurationSec == 0 {
		cp.MaxVideoPostDurationSec = 600
	}
	s.accounts[cp.OpenID] = &cp
}

// FailNext makes the next n matching requests fail as f says.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// FailNextPublish makes the next publication end FAILED with reason
// (e.g. video_pull_failed) instead of PUBLISH_COMPLETE.
func (s *Server) FailNextPublish(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPublish = append(s.failPublish, reason)
}

// SentMessages returns a copy of every message and comment reply sent.
func (s *Server) SentMessages() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Publications returns every publication, oldest first.
func (s *Server) Publications() []Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Publication, 0, len(s.publications))
	for _, id := range s.publications {
		out = append(out, s.pubs[id].Publication)
	}
	return out
}

// Requests counts the API calls served (control endpoints excluded).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// WaitSent blocks until at least n messages or replies were sent, or ctx
// ends.
func (s *Server) WaitSent(ctx context.Context, n int) ([]Sent, error) {
	for {
		s.mu.Lock()
		if len(s.sent) >= n {
			out := append([]Sent(nil), s.sent...)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d sent messages: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// Flush waits for the webhooks the emulator is sending.
func (s *Server) Flush() { s.pending.Wait() }

// notify wakes WaitSent callers; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// emit sends webhook bodies to the sink, if any. s.mu must not be held:
// the sink may call back into the emulator.
func (s *Server) emit(bodies ...[]byte) {
	if s.sink == nil {
		return
	}
	for _, b := range bodies {
		s.pending.Add(1)
		go func() {
			defer s.pending.Done()
			s.sink(b)
		}()
	}
}

// nextID returns a deterministic 19-digit id; s.mu must be held.
func (s *Server) nextID() string {
	s.seq++
	return strconv.FormatInt(7_300_000_000_000_000_000+s.seq, 10)
}

func secret(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is an answer of the open API (v2 error struct).
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) write(w http.ResponseWriter) {
	writeJSON(w, e.status, map[string]any{
		"data":  map[string]any{},
		"error": map[string]string{"code": e.code, "message": e.message, "log_id": secret("")[:20]},
	})
}

func invalidParams(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_params", message: fmt.Sprintf(format, args...)}
}

func writeOK(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{
		"data":  data,
		"error": map[string]string{"code": "ok", "message": "", "log_id": secret("")[:20]},
	})
}

// bizError is a Business API answer with a non-zero code.
type bizError struct {
	code    int
	message string
}

func (e *bizError) write(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{"code": e.code, "message": e.message, "request_id": secret("")[:24], "data": map[string]any{}})
}

func writeBizOK(w http.ResponseWriter, data any) {
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "message": "OK", "request_id": secret("")[:24], "data": data})
}

// ServeHTTP routes the API, the consent page and the control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(path, "_sandbox/tiktok/"); ok {
		s.control(w, r, rest)
		return
	}
	api, route := "open", path
	if rest, ok := strings.CutPrefix(path, "open_api/"); ok {
		// open_api/v1.3/business/...: any version.
		_, route, _ = strings.Cut(rest, "/")
		api = "business"
	}
	if api == "open" && route == "v2/auth/authorize" {
		s.authorizePage(w, r)
		return
	}
	if s.injectFailure(w, api, route) {
		return
	}
	switch {
	case api == "open" && route == "v2/oauth/token" && r.Method == http.MethodPost:
		s.token(w, r)
	case api == "open" && route == "v2/oauth/revoke" && r.Method == http.MethodPost:
		s.revokeToken(w, r)
	case api == "open" && route == "v2/user/info" && r.Method == http.MethodGet:
		s.userInfo(w, r)
	case api == "open" && route == "v2/post/publish/creator_info/query" && r.Method == http.MethodPost:
		s.creatorInfo(w, r)
	case api == "open" && route == "v2/post/publish/video/init" && r.Method == http.MethodPost:
		s.videoInit(w, r)
	case api == "open" && route == "v2/post/publish/status/fetch" && r.Method == http.MethodPost:
		s.statusFetch(w, r)
	case api == "business" && route == "business/message/send" && r.Method == http.MethodPost:
		s.messageSend(w, r)
	case api == "business" && route == "business/comment/list" && r.Method == http.MethodGet:
		s.commentList(w, r)
	case api == "business" && route == "business/comment/reply/create" && r.Method == http.MethodPost:
		s.commentReply(w, r)
	case api == "business" && route == "business/video/list" && r.Method == http.MethodGet:
		s.videoList(w, r)
	case api == "business":
		(&bizError{code: CodeNotFound, message: fmt.Sprintf("unknown endpoint %s %s", r.Method, route)}).write(w)
	default:
		(&apiError{status: http.StatusNotFound, code: "invalid_params", message: fmt.Sprintf("unknown endpoint %s %s", r.Method, route)}).write(w)
	}
}

// injectFailure answers the request with the next matching failure.
func (s *Server) injectFailure(w http.ResponseWriter, api, route string) bool {
	s.mu.Lock()
	s.requests++
	var f *Failure
	for i := range s.failures {
		if s.failures[i].API == "" || s.failures[i].API == api {
			cp := s.failures[i]
			f = &cp
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
	}
	status := f.HTTPStatus
	switch {
	case f.Code == "" && f.BusinessCode == 0:
		http.Error(w, cmp.Or(f.Message, "upstream error"), cmp.Or(status, http.StatusBadGateway))
	case api == "business":
		writeJSON(w, cmp.Or(status, http.StatusOK), map[string]any{"code": f.BusinessCode, "message": f.Message, "request_id": secret("")[:24], "data": map[string]any{}})
	case route == "v2/oauth/token" || route == "v2/oauth/revoke":
		writeJSON(w, cmp.Or(status, http.StatusBadRequest), map[string]string{"error": f.Code, "error_description": f.Message, "log_id": secret("")[:20]})
	default:
		(&apiError{status: cmp.Or(status, http.StatusBadRequest), code: f.Code, message: f.Message}).write(w)
	}
	return true
}

// bearer reads the token of an open API call and checks it carries scope.
func (s *Server) bearer(r *http.Request, scope string) (*Account, *apiError) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[strings.TrimSpace(tok)]
	if !ok || at.grant.revoked || !s.now().Before(at.expires) {
		return nil, &apiError{status: http.StatusUnauthorized, code: "access_token_invalid",
			message: "The access token is invalid or not found in the request."}
	}
	if scope != "" && !slices.Contains(at.grant.scopes, scope) {
		return nil, &apiError{status: http.StatusUnauthorized, code: "scope_not_authorized",
			message: "The user did not authorize the scope required for completing this request."}
	}
	acct, ok := s.accounts[at.grant.openID]
	if !ok {
		return nil, &apiError{status: http.StatusUnauthorized, code: "access_token_invalid", message: "unknown account"}
	}
	return acct, nil
}

// business checks a Business API call's Access-Token and that it opens
// businessID. s.mu must be held.
func (s *Server) business(r *http.Request, businessID string) (*Account, *bizError) {
	tok := strings.TrimSpace(r.Header.Get("Access-Token"))
	if tok == "" {
		return nil, &bizError{code: CodeTokenEmpty, message: "Access token is null"}
	}
	at, ok := s.access[tok]
	if !ok || at.grant.revoked || !s.now().Before(at.expires) {
		return nil, &bizError{code: CodeTokenInvalid, message: "Access token is incorrect or has been revoked."}
	}
	if businessID == "" || businessID != at.grant.openID {
		return nil, &bizError{code: CodeNoPermission, message: "No permission to operate business_id " + businessID}
	}
	acct, ok := s.accounts[businessID]
	if !ok {
		return nil, &bizError{code: CodeNoPermission, message: "unknown business"}
	}
	return acct, nil
}

func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
