package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Windows Meta enforces on the Send API.
const (
	StandardWindow   = 24 * time.Hour
	HumanAgentWindow = 7 * 24 * time.Hour
	PrivateReplyTTL  = 7 * 24 * time.Hour
)

// Option configures a Server.
type Option func(*Server)

// WithClock sets the emulator's clock (window checks, daily cap).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithContainerPolls sets how many status polls a new Instagram container
// answers IN_PROGRESS before FINISHED (default 1).
func WithContainerPolls(n int) Option {
	return func(s *Server) { s.containerPolls = n }
}

// WithDailyPublishLimit sets the Instagram media_publish cap per account
// per 24 h (default 50).
func WithDailyPublishLimit(n int) Option {
	return func(s *Server) { s.dailyLimit = n }
}

// WithAppSecret makes the emulator require a valid appsecret_proof on
// every call, like an app with "Require App Secret" switched on.
func WithAppSecret(secret string) Option {
	return func(s *Server) { s.appSecret = secret }
}

// Sent is one message or comment reply the emulator accepted.
type Sent struct {
	ID             string
	AccountID      string // the account it was sent as (an Instagram account sending through its Page too)
	Kind           string // "message", "private_reply", "comment_reply" (Facebook), "reply" (Instagram)
	RecipientID    string // person for messages, comment for replies
	MessagingType  string
	Tag            string
	Text           string
	AttachmentType string
	AttachmentURL  string
	At             time.Time
}

// Published is one post, photo, video, container or publication.
type Published struct {
	ID            string
	AccountID     string
	Kind          string // "feed", "photo", "video", "container", "media"
	Message       string
	Link          string
	URL           string   // photo url, video file_url, image_url or video_url
	MediaType     string   // container media_type
	Children      []string // carousel children
	AttachedMedia []string // feed attached_media fbids
	Published     bool
	ScheduledAt   time.Time
	CreationID    string // media: the container published
	At            time.Time
}

type account struct {
	id, name, username string
	// category: every Page has one; Instagram accounts have no such field.
	category  string
	instagram bool
}

// DefaultPageCategory is the category AddPage gives a Page.
const DefaultPageCategory = "Local business"

// accountFields are the fields GET /{account} answers, per node type; any
// other requested field is error 100, as on the Graph API.
var accountFields = map[bool]map[string]bool{
	false: {"id": true, "name": true, "username": true, "category": true},
	true:  {"id": true, "name": true, "username": true},
}

type container struct {
	id, account  string
	mediaType    string
	url, caption string
	children     []string
	carouselItem bool
	pollsLeft    int
	failed       string // ERROR or EXPIRED when told
	published    bool
}

type failure struct {
	status, code, subcode int
	message               string
	retryAfter            time.Duration
}

type seenKey struct{ account, user string }

// Server is the emulator. Its zero value is not usable: call New.
type Server struct {
	now            func() time.Time
	containerPolls int
	dailyLimit     int
	appSecret      string
	publishDelay   time.Duration

	mu          sync.Mutex
	changed     chan struct{}
	accounts    map[string]*account
	tokens      map[string]string // token → account id
	revoked     map[string]bool
	seen        map[seenKey]time.Time
	comments    map[string]time.Time // comment id → created
	replied     map[string]bool      // comments with a private reply
	containers  map[string]*container
	media       map[string]string // published media id → account
	publishes   map[string][]time.Time
	failures    []failure
	failNextBad string
	sent        []Sent
	published   []Published
	requests    int
	// x is what onboarding, lookups and attachments add (oauth.go,
	// lookup.go, cdn.go).
	x extras
}

// New returns an emulator with no accounts.
func New(opts ...Option) *Server {
	s := &Server{
		now:            time.Now,
		containerPolls: 1,
		dailyLimit:     50,
		changed:        make(chan struct{}),
		accounts:       map[string]*account{},
		tokens:         map[string]string{},
		revoked:        map[string]bool{},
		seen:           map[seenKey]time.Time{},
		comments:       map[string]time.Time{},
		replied:        map[string]bool{},
		containers:     map[string]*container{},
		media:          map[string]string{},
		publishes:      map[string][]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddPage registers a Facebook Page and its page token.
func (s *Server) AddPage(pageID, name, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[pageID] = &account{id: pageID, name: name, category: DefaultPageCategory}
	s.tokens[token] = pageID
}

// SetUsername gives a registered account a username: a Page's vanity name
// (facebook.com/<username>), or renames an Instagram account.
func (s *Server) SetUsername(accountID, username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[accountID]; a != nil {
		a.username = username
	}
}

// AddInstagramAccount registers an Instagram professional account and its
// token.
func (s *Server) AddInstagramAccount(igID, username, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[igID] = &account{id: igID, username: username, instagram: true}
	s.tokens[token] = igID
}

// Seen records that userID messaged accountID at at: it opens the
// messaging window. Webhook builders' callers (tests, simulate) call it.
func (s *Server) Seen(accountID, userID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := seenKey{accountID, userID}
	if at.After(s.seen[k]) {
		s.seen[k] = at
	}
}

// Commented records that a comment was written at at: private replies to
// it are accepted once, within 7 days.
func (s *Server) Commented(commentID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.comments[commentID] = at
}

// Observe records what an inbound webhook body built here tells: every
// customer message opens a window (Seen) and every comment becomes
// repliable (Commented). Bodies that do not parse are ignored.
func (s *Server) Observe(body []byte) {
	var env struct {
		Entry []struct {
			ID        string `json:"id"`
			Messaging []struct {
				Sender    struct{ ID string } `json:"sender"`
				Timestamp int64               `json:"timestamp"`
				Message   *struct {
					IsEcho bool `json:"is_echo"`
				} `json:"message"`
			} `json:"messaging"`
			Changes []struct {
				Value struct {
					ID          string              `json:"id"`
					CommentID   string              `json:"comment_id"`
					CreatedTime int64               `json:"created_time"`
					From        struct{ ID string } `json:"from"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &env) != nil {
		return
	}
	for _, e := range env.Entry {
		for _, m := range e.Messaging {
			if m.Message != nil && !m.Message.IsEcho && m.Sender.ID != e.ID {
				s.Seen(e.ID, m.Sender.ID, time.UnixMilli(m.Timestamp))
			}
		}
		for _, c := range e.Changes {
			id := c.Value.CommentID
			if id == "" {
				id = c.Value.ID
			}
			if id == "" || c.Value.From.ID == e.ID {
				continue
			}
			at := s.now()
			if c.Value.CreatedTime > 0 {
				at = time.Unix(c.Value.CreatedTime, 0)
			}
			s.Commented(id, at)
		}
	}
}

// FailNext makes the next n Graph calls fail with this HTTP status and
// Graph error.
func (s *Server) FailNext(n, httpStatus, code, subcode int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{httpStatus, code, subcode, message, 0})
	}
}

// FailNextRetryAfter is FailNext with a Retry-After header (seconds).
func (s *Server) FailNextRetryAfter(n, httpStatus, code int, message string, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{httpStatus, code, 0, message, retryAfter})
	}
}

// FailNextContainer makes the next media container created end in
// status (ERROR or EXPIRED) instead of FINISHED.
func (s *Server) FailNextContainer(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNextBad = status
}

// SentMessages returns a copy of everything sent so far.
func (s *Server) SentMessages() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// PublishedPosts returns a copy of everything published so far.
func (s *Server) PublishedPosts() []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Published(nil), s.published...)
}

// Requests counts the Graph calls served (control endpoints excluded).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// WaitSent blocks until at least n messages were sent, or ctx ends.
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

// notify wakes WaitSent callers; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func numericID() string {
	b := make([]byte, 7)
	_, _ = rand.Read(b)
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return strconv.FormatUint(1e16+n%9e16, 10)
}

var versionPrefix = regexp.MustCompile(`^/v\d+(\.\d+)?(/|$)`)

type graphErr struct {
	status     int
	code       int
	subcode    int
	msg        string
	typ        string
	retryAfter time.Duration
}

func (e *graphErr) write(w http.ResponseWriter) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.retryAfter.Seconds())))
	}
	typ := e.typ
	if typ == "" {
		typ = "OAuthException"
	}
	body := map[string]any{"message": e.msg, "type": typ, "code": e.code, "fbtrace_id": newID("T")}
	if e.subcode != 0 {
		body["error_subcode"] = e.subcode
	}
	writeJSON(w, e.status, map[string]any{"error": body})
}

func badParam(msg string) *graphErr {
	return &graphErr{status: http.StatusBadRequest, code: 100, msg: "(#100) " + msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// params merges the query, a form body and a JSON body: Graph accepts
// parameters in any of them. JSON values that are not strings keep their
// JSON text.
func params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	if r.Body == nil {
		return out, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return out, nil
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			} else {
				out[k] = string(v)
			}
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		out[k] = v[0]
	}
	return out, nil
}

func token(r *http.Request, p map[string]string) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return p["access_token"]
}

// ServeHTTP routes Graph and control requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if loc := versionPrefix.FindStringIndex(path); loc != nil {
		path = "/" + path[loc[1]:]
	}
	path = strings.Trim(path, "/")
	if rest, ok := strings.CutPrefix(path, "_sandbox/"); ok {
		s.control(w, r, rest)
		return
	}
	p, err := params(r)
	if err != nil {
		badParam("could not parse the request body").write(w)
		return
	}
	out, gerr, delay, written := s.handle(w, r, path, p)
	if written {
		return
	}
	if delay > 0 {
		// A slow platform (SlowPublish): the post exists, the answer is
		// late. A client that gives up (or dies) gets nothing.
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if gerr != nil {
		gerr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handle serves one Graph request under the lock. written reports a
// response it wrote itself (the user-token endpoints).
func (s *Server) handle(w http.ResponseWriter, r *http.Request, path string, p map[string]string) (out any, gerr *graphErr, delay time.Duration, written bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		return nil, &graphErr{status: f.status, code: f.code, subcode: f.subcode, msg: f.message, retryAfter: f.retryAfter}, 0, false
	}
	if s.serveUser(w, r, path, p) {
		return nil, nil, 0, true // the login dialog, the token endpoint, user-token calls
	}
	acct, gerr := s.auth(token(r, p))
	if gerr == nil && s.appSecret != "" && !sdk.VerifyHMACSHA256Hex([]byte(s.appSecret), []byte(token(r, p)), p["appsecret_proof"]) {
		gerr = badParam("Invalid appsecret_proof provided in the API argument")
	}
	if gerr != nil {
		return nil, gerr, 0, false
	}
	segs := strings.Split(path, "/")
	out, gerr, done := s.serveExtra(acct, r.Method, segs, p)
	switch {
	case done: // profiles, post context, subscribed_apps
	case r.Method == http.MethodGet && len(segs) == 1:
		out, gerr = s.getNode(acct, segs[0], p)
	case r.Method == http.MethodGet && len(segs) == 2:
		out, gerr = s.getEdge(acct, segs[0], segs[1], p)
	case r.Method == http.MethodDelete && path == "me/permissions":
		delete(s.tokens, token(r, p))
		s.revoked[token(r, p)] = true
		out = map[string]bool{"success": true}
	case r.Method == http.MethodPost && len(segs) == 2:
		before := len(s.published)
		out, gerr = s.post(acct, segs[0], segs[1], p)
		if gerr == nil && s.publishDelay > 0 && len(s.published) > before && segs[1] != "media" {
			delay = s.publishDelay
		}
	default:
		gerr = &graphErr{status: http.StatusBadRequest, code: 100, msg: fmt.Sprintf("Unsupported %s request: %s", r.Method, path), typ: "GraphMethodException"}
	}
	return out, gerr, delay, false
}

// SlowPublish makes every publishing call (feed, photos, videos,
// media_publish) answer d after the post is created, as a platform that
// is slow to answer: a host killed meanwhile never learns the post's id.
// Zero turns it off.
func (s *Server) SlowPublish(d time.Duration) {
	s.mu.Lock()
	s.publishDelay = d
	s.mu.Unlock()
}

// graphTime is the Graph API's time format.
const graphTime = "2006-01-02T15:04:05-0700"

// getEdge serves the lists the connector reads back: a Page's
// published_posts (or feed) and an Instagram account's media, newest
// first, with since (unix seconds) honoured on Pages.
func (s *Server) getEdge(acct *account, node, edge string, p map[string]string) (any, *graphErr) {
	if node == "me" {
		node = acct.id
	}
	if node != acct.id {
		return nil, &graphErr{status: http.StatusBadRequest, code: 200, msg: "(#200) the token cannot read this account"}
	}
	var since time.Time
	if v := p["since"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badParam("since must be a unix time")
		}
		since = time.Unix(n, 0)
	}
	data := []map[string]string{}
	for i := len(s.published) - 1; i >= 0; i-- {
		pub := s.published[i]
		if pub.AccountID != acct.id || !pub.Published || pub.At.Before(since) {
			continue
		}
		switch {
		case !acct.instagram && (edge == "published_posts" || edge == "feed") && pub.Kind != "container" && pub.Kind != "media":
			id := pub.ID
			if pub.Kind != "feed" {
				id = acct.id + "_" + pub.ID
			}
			data = append(data, map[string]string{"id": id, "message": pub.Message, "created_time": pub.At.UTC().Format(graphTime)})
		case acct.instagram && edge == "media" && pub.Kind == "media":
			data = append(data, map[string]string{"id": pub.ID, "caption": pub.Message, "timestamp": pub.At.UTC().Format(graphTime),
				"permalink": "https://www.instagram.com/p/" + pub.ID + "/"})
		}
	}
	if !acct.instagram && edge != "published_posts" && edge != "feed" || acct.instagram && edge != "media" {
		return nil, badParam(fmt.Sprintf("Unsupported get request: /%s/%s", node, edge))
	}
	return map[string]any{"data": data}, nil
}

func (s *Server) auth(tok string) (*account, *graphErr) {
	if tok == "" {
		return nil, &graphErr{status: http.StatusBadRequest, code: 104, msg: "An access token is required to request this resource."}
	}
	if s.revoked[tok] {
		return nil, &graphErr{status: http.StatusBadRequest, code: 190, subcode: 460, msg: "Error validating access token: the user has not authorized application."}
	}
	id, ok := s.tokens[tok]
	if !ok {
		return nil, &graphErr{status: http.StatusBadRequest, code: 190, msg: "Invalid OAuth access token - Cannot parse access token"}
	}
	return s.accounts[id], nil
}

func (s *Server) getNode(acct *account, id string, p map[string]string) (any, *graphErr) {
	fields := p["fields"]
	if id == "me" {
		id = acct.id
	}
	if a, ok := s.accounts[id]; ok {
		values := map[string]string{"id": a.id, "name": a.name, "username": a.username, "category": a.category}
		requested := []string{"id", "name", "username"}
		if fields != "" {
			requested = strings.Split(fields, ",")
		}
		out := map[string]string{}
		for _, f := range requested {
			f = strings.TrimSpace(f)
			if !accountFields[a.instagram][f] {
				node := "Page"
				if a.instagram {
					node = "IGUser"
				}
				return nil, badParam(fmt.Sprintf("Tried accessing nonexisting field (%s) on node type (%s)", f, node))
			}
			if values[f] != "" {
				out[f] = values[f]
			}
		}
		return out, nil
	}
	if c, ok := s.containers[id]; ok {
		if strings.Contains(fields, "status_code") {
			code := "FINISHED"
			switch {
			case c.published:
				code = "PUBLISHED"
			case c.pollsLeft > 0:
				c.pollsLeft--
				code = "IN_PROGRESS"
			case c.failed != "":
				code = c.failed
			}
			out := map[string]string{"id": id, "status_code": code}
			if c.failed != "" && code == c.failed {
				out["status"] = "Error: media could not be fetched from URI (2207026)"
			}
			return out, nil
		}
		return map[string]string{"id": id}, nil
	}
	if _, ok := s.media[id]; ok {
		if strings.Contains(fields, "status_code") {
			return nil, badParam("Tried accessing nonexisting field (status_code) on node type (IGMedia)")
		}
		return map[string]string{"id": id, "permalink": "https://www.instagram.com/p/" + id + "/"}, nil
	}
	return nil, &graphErr{status: http.StatusBadRequest, code: 100, subcode: 33, msg: fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist", id), typ: "GraphMethodException"}
}

func (s *Server) post(acct *account, node, edge string, p map[string]string) (any, *graphErr) {
	acct = s.actingAs(acct, node, edge)
	if node == "me" {
		node = acct.id
	}
	owns := node == acct.id
	switch edge {
	case "messages":
		if !owns {
			return nil, &graphErr{status: http.StatusBadRequest, code: 200, msg: "(#200) the token cannot send for this account"}
		}
		return s.message(acct, p)
	case "comments", "replies":
		if p["message"] == "" {
			return nil, badParam("param message must be non-empty")
		}
		if edge == "replies" && !acct.instagram || edge == "comments" && acct.instagram {
			return nil, badParam(fmt.Sprintf("Unsupported post request: /%s/%s", node, edge))
		}
		id := node + "_" + numericID()
		if acct.instagram {
			id = numericID()
		}
		kind := "comment_reply"
		if edge == "replies" {
			kind = "reply"
		}
		s.record(Sent{ID: id, AccountID: acct.id, Kind: kind, RecipientID: node, Text: p["message"]})
		return map[string]string{"id": id}, nil
	}
	if !owns {
		return nil, &graphErr{status: http.StatusBadRequest, code: 200, msg: "(#200) the token cannot publish for this account"}
	}
	switch {
	case edge == "feed" && !acct.instagram:
		return s.feed(acct, p)
	case (edge == "photos" || edge == "videos") && !acct.instagram:
		return s.photoOrVideo(acct, edge, p)
	case edge == "media" && acct.instagram:
		return s.createContainer(acct, p)
	case edge == "media_publish" && acct.instagram:
		return s.mediaPublish(acct, p)
	}
	return nil, badParam(fmt.Sprintf("Unsupported post request: /%s/%s", node, edge))
}

func (s *Server) record(m Sent) {
	m.At = s.now()
	s.sent = append(s.sent, m)
	s.notify()
}

func (s *Server) message(acct *account, p map[string]string) (any, *graphErr) {
	var rcpt struct {
		ID        string `json:"id"`
		CommentID string `json:"comment_id"`
	}
	var msg struct {
		Text       string `json:"text"`
		Attachment *struct {
			Type    string `json:"type"`
			Payload struct {
				URL string `json:"url"`
			} `json:"payload"`
		} `json:"attachment"`
	}
	if json.Unmarshal([]byte(p["recipient"]), &rcpt) != nil || rcpt.ID == "" && rcpt.CommentID == "" {
		return nil, badParam("param recipient must be non-empty.")
	}
	if json.Unmarshal([]byte(p["message"]), &msg) != nil || msg.Text == "" && msg.Attachment == nil {
		return nil, badParam("param message must be non-empty.")
	}
	if msg.Text != "" && msg.Attachment != nil {
		return nil, badParam("message can have text or an attachment, not both")
	}
	if msg.Attachment != nil && msg.Attachment.Payload.URL == "" {
		return nil, badParam("attachment payload needs a url")
	}
	now := s.now()
	sent := Sent{ID: newID("m_"), AccountID: acct.id, Text: msg.Text, MessagingType: p["messaging_type"], Tag: p["tag"]}
	if msg.Attachment != nil {
		sent.AttachmentType, sent.AttachmentURL = msg.Attachment.Type, msg.Attachment.Payload.URL
	}
	if rcpt.CommentID != "" {
		created, ok := s.comments[rcpt.CommentID]
		switch {
		case !ok:
			return nil, badParam("Invalid comment id: the sandbox has not seen this comment (call Commented or Observe)")
		case s.replied[rcpt.CommentID]:
			return nil, &graphErr{status: http.StatusBadRequest, code: 10900, msg: "Activity already replied to"}
		case now.Sub(created) > PrivateReplyTTL:
			return nil, &graphErr{status: http.StatusBadRequest, code: 10903, msg: "This activity can't be replied to"}
		}
		s.replied[rcpt.CommentID] = true
		sent.Kind, sent.RecipientID = "private_reply", rcpt.CommentID
		s.record(sent)
		return map[string]string{"recipient_id": numericID(), "message_id": sent.ID}, nil
	}
	window := StandardWindow
	switch p["messaging_type"] {
	case "RESPONSE", "UPDATE":
	case "MESSAGE_TAG":
		if p["tag"] != "HUMAN_AGENT" {
			return nil, badParam("the sandbox only knows the HUMAN_AGENT tag")
		}
		window = HumanAgentWindow
	default:
		return nil, badParam("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
	}
	acct = s.messagedAs(acct, rcpt.ID)
	sent.AccountID = acct.id
	last, ok := s.seen[seenKey{acct.id, rcpt.ID}]
	if !ok || now.Sub(last) > window {
		sub := 2018278
		if acct.instagram {
			sub = 2534022
		}
		return nil, &graphErr{status: http.StatusBadRequest, code: 10, subcode: sub,
			msg: "(#10) This message is sent outside of allowed window."}
	}
	sent.Kind, sent.RecipientID = "message", rcpt.ID
	s.record(sent)
	return map[string]string{"recipient_id": rcpt.ID, "message_id": sent.ID}, nil
}

func (s *Server) schedule(p map[string]string) (published bool, at time.Time, gerr *graphErr) {
	published = p["published"] != "false"
	if v := p["scheduled_publish_time"]; v != "" {
		if published {
			return false, at, badParam("scheduled_publish_time needs published=false")
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false, at, badParam("scheduled_publish_time must be a unix time")
		}
		at = time.Unix(n, 0)
		if lead := at.Sub(s.now()); lead < 10*time.Minute || lead > 30*24*time.Hour {
			return false, at, badParam("The specified scheduled publish time is invalid.")
		}
	}
	return published, at, nil
}

func (s *Server) feed(acct *account, p map[string]string) (any, *graphErr) {
	published, at, gerr := s.schedule(p)
	if gerr != nil {
		return nil, gerr
	}
	pub := Published{ID: acct.id + "_" + numericID(), AccountID: acct.id, Kind: "feed", Message: p["message"], Link: p["link"],
		Published: published, ScheduledAt: at, At: s.now()}
	if v := p["attached_media"]; v != "" {
		var att []struct {
			MediaFBID string `json:"media_fbid"`
		}
		if json.Unmarshal([]byte(v), &att) != nil {
			return nil, badParam("attached_media must be a list of {media_fbid}")
		}
		for _, a := range att {
			pub.AttachedMedia = append(pub.AttachedMedia, a.MediaFBID)
		}
	}
	if pub.Message == "" && pub.Link == "" && len(pub.AttachedMedia) == 0 {
		return nil, badParam("a post needs a message, a link or attached media")
	}
	s.published = append(s.published, pub)
	return map[string]string{"id": pub.ID}, nil
}

func (s *Server) photoOrVideo(acct *account, edge string, p map[string]string) (any, *graphErr) {
	published, at, gerr := s.schedule(p)
	if gerr != nil {
		return nil, gerr
	}
	pub := Published{ID: numericID(), AccountID: acct.id, Published: published, ScheduledAt: at, At: s.now()}
	if edge == "photos" {
		pub.Kind, pub.URL, pub.Message = "photo", p["url"], p["caption"]
	} else {
		pub.Kind, pub.URL, pub.Message = "video", p["file_url"], p["description"]
	}
	if pub.URL == "" {
		return nil, badParam("a media url is required")
	}
	s.published = append(s.published, pub)
	out := map[string]string{"id": pub.ID}
	if edge == "photos" && (published || !at.IsZero()) {
		out["post_id"] = acct.id + "_" + pub.ID
	}
	return out, nil
}

func (s *Server) createContainer(acct *account, p map[string]string) (any, *graphErr) {
	c := &container{id: numericID(), account: acct.id, mediaType: p["media_type"], caption: p["caption"],
		carouselItem: p["is_carousel_item"] == "true", pollsLeft: s.containerPolls}
	switch c.mediaType {
	case "", "IMAGE":
		c.url = p["image_url"]
	case "VIDEO", "REELS":
		c.url = p["video_url"]
	case "STORIES":
		c.url = p["image_url"] + p["video_url"]
	case "CAROUSEL":
		c.children = strings.Split(p["children"], ",")
		if len(c.children) < 2 || len(c.children) > 10 {
			return nil, badParam("a carousel has 2 to 10 children")
		}
		for _, ch := range c.children {
			cc, ok := s.containers[ch]
			if !ok || !cc.carouselItem || cc.account != acct.id {
				return nil, badParam("invalid carousel child " + ch)
			}
			if cc.pollsLeft > 0 || cc.failed != "" {
				return nil, &graphErr{status: http.StatusBadRequest, code: 9007, subcode: 2207027, msg: "Media ID is not available: child " + ch + " is not ready"}
			}
		}
	default:
		return nil, badParam("unknown media_type " + c.mediaType)
	}
	if c.mediaType != "CAROUSEL" && c.url == "" {
		return nil, badParam("image_url or video_url is required")
	}
	if s.failNextBad != "" {
		c.failed, s.failNextBad = s.failNextBad, ""
	}
	s.containers[c.id] = c
	s.published = append(s.published, Published{ID: c.id, AccountID: acct.id, Kind: "container", URL: c.url, Message: c.caption,
		MediaType: c.mediaType, Children: c.children, At: s.now()})
	return map[string]string{"id": c.id}, nil
}

func (s *Server) mediaPublish(acct *account, p map[string]string) (any, *graphErr) {
	id := p["creation_id"]
	c, ok := s.containers[id]
	if !ok || c.account != acct.id || c.carouselItem {
		return nil, badParam("invalid creation_id")
	}
	if c.pollsLeft > 0 || c.failed != "" || c.published {
		return nil, &graphErr{status: http.StatusBadRequest, code: 9007, subcode: 2207027, msg: "Media ID is not available"}
	}
	now := s.now()
	var recent []time.Time
	for _, t := range s.publishes[acct.id] {
		if now.Sub(t) < 24*time.Hour {
			recent = append(recent, t)
		}
	}
	if len(recent) >= s.dailyLimit {
		return nil, &graphErr{status: http.StatusBadRequest, code: 9, subcode: 2207042,
			msg: "(#9) Application request limit reached: the publishing limit for this account has been reached"}
	}
	s.publishes[acct.id] = append(recent, now)
	c.published = true
	mid := numericID()
	s.media[mid] = acct.id
	s.published = append(s.published, Published{ID: mid, AccountID: acct.id, Kind: "media", CreationID: id, Message: c.caption,
		MediaType: c.mediaType, URL: c.url, Children: c.children, Published: true, At: now})
	return map[string]string{"id": mid}, nil
}

// control serves /_sandbox/: observe (POST a webhook body), seen, sent,
// published. They let another process drive a running emulator.
func (s *Server) control(w http.ResponseWriter, r *http.Request, what string) {
	if s.controlExtra(w, r, what) {
		return
	}
	switch {
	case what == "observe" && r.Method == http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.Observe(b)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case what == "seen" && r.Method == http.MethodPost:
		var in struct {
			AccountID string    `json:"account_id"`
			UserID    string    `json:"user_id"`
			At        time.Time `json:"at"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.AccountID == "" || in.UserID == "" {
			http.Error(w, "want {account_id, user_id, at}", http.StatusBadRequest)
			return
		}
		if in.At.IsZero() {
			in.At = s.now()
		}
		s.Seen(in.AccountID, in.UserID, in.At)
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	case what == "sent" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.SentMessages())
	case what == "published" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.PublishedPosts())
	default:
		http.NotFound(w, r)
	}
}
