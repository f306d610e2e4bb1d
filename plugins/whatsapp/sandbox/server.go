package sandbox

import (
	"context"
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
	"unicode/utf8"
)

// MaxTextLength is the longest text body the platform accepts.
const MaxTextLength = 4096

// Number is a business phone number the emulator serves.
type Number struct {
	PhoneNumberID      string
	DisplayPhoneNumber string
	VerifiedName       string
	Token              string
}

// SentMessage is one send the emulator accepted.
type SentMessage struct {
	// ID is the wamid the emulator answered with.
	ID            string
	PhoneNumberID string
	// To is the recipient as sent; WaID is its digits.
	To   string
	WaID string
	Type string
	// Text is the text body, or the media caption.
	Text      string
	ReplyToID string
	Template  *Template
	Media     *Media
	// Body is the exact request body.
	Body []byte
	At   time.Time
}

// Template is a template message as sent.
type Template struct {
	Name       string
	Language   string
	Components json.RawMessage
}

// Media is a media message as sent.
type Media struct {
	Type     string // image, audio, video, document, sticker
	ID       string
	Link     string
	Caption  string
	Filename string
}

// Failure is an injected error answer.
type Failure struct {
	HTTPStatus int
	// Code is the Graph error code; zero answers a plain-text body, the
	// way a proxy or load balancer in front of the platform would.
	Code       int
	Subcode    int
	Message    string
	Details    string
	RetryAfter time.Duration // sets Retry-After when positive
}

// Option configures a Server.
type Option func(*Server)

// WithOnSend calls fn after every accepted send, outside the server's lock
// (e.g. to post status webhooks back to Neksio).
func WithOnSend(fn func(SentMessage)) Option {
	return func(s *Server) { s.onSend = fn }
}

// WithClock sets the clock stamping recorded sends.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// Server is the emulator. It is safe for concurrent use.
type Server struct {
	onSend func(SentMessage)
	now    func() time.Time

	mu       sync.Mutex
	numbers  map[string]Number
	tokens   map[string]bool
	sent     []SentMessage
	notify   chan struct{} // closed and replaced on every send
	failures []Failure     // one entry per request still to fail
	closed   map[string]bool
	// x is what media, templates and the window add (media.go,
	// templates.go, window.go).
	x extras
}

// New returns an emulator with no numbers registered.
func New(opts ...Option) *Server {
	s := &Server{
		now:     time.Now,
		numbers: map[string]Number{},
		tokens:  map[string]bool{},
		notify:  make(chan struct{}),
		closed:  map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddNumber registers a business number and the token that may use it.
func (s *Server) AddNumber(phoneNumberID, displayNumber, name, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers[phoneNumberID] = Number{PhoneNumberID: phoneNumberID, DisplayPhoneNumber: displayNumber, VerifiedName: name, Token: token}
	s.tokens[token] = true
}

// FailNext makes the next n requests, to any endpoint, fail with the given
// HTTP status and Graph error code.
func (s *Server) FailNext(n, httpStatus, code int, message string) {
	s.FailNextWith(n, Failure{HTTPStatus: httpStatus, Code: code, Message: message})
}

// FailNextWith makes the next n requests fail as f says.
func (s *Server) FailNextWith(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// CloseWindow makes free-form sends to waID fail with 131047, as when the
// customer last wrote more than 24 hours ago. Templates still go through.
func (s *Server) CloseWindow(waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed[digits(waID)] = true
}

// OpenWindow reopens the window CloseWindow closed.
func (s *Server) OpenWindow(waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.closed, digits(waID))
}

// Sent returns a copy of the sends accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// WaitSent blocks until at least n sends were accepted and returns them
// all, or returns ctx's error.
func (s *Server) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	for {
		s.mu.Lock()
		if len(s.sent) >= n {
			out := append([]SentMessage(nil), s.sent...)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("sandbox: waiting for send %d: %w", n, ctx.Err())
		}
	}
}

// Reset forgets sends, pending failures and closed windows; numbers stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent, s.failures = nil, nil
	s.closed = map[string]bool{}
	s.x.seen = nil
}

// Handler returns the emulator's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

var versionSegment = regexp.MustCompile(`^v[0-9]+(\.[0-9]+)?$`)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.control(w, r) {
		return // /_sandbox/…: never failed on purpose
	}
	if f, ok := s.takeFailure(); ok {
		writeFailure(w, f)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) > 0 && versionSegment.MatchString(parts[0]) {
		parts = parts[1:]
	}
	if s.serveExtra(w, r, parts) {
		return // media, templates, debug_token, control endpoints
	}
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] == "messages":
		if r.Method != http.MethodPost {
			writeError(w, http.StatusBadRequest, 100, 0, "GraphMethodException", "Unsupported "+strings.ToLower(r.Method)+" request.", "")
			return
		}
		if n, ok := s.authorize(w, r, parts[0]); ok {
			s.send(w, r, n)
		}
	case len(parts) == 1 && parts[0] != "":
		if r.Method != http.MethodGet {
			writeError(w, http.StatusBadRequest, 100, 0, "GraphMethodException", "Unsupported "+strings.ToLower(r.Method)+" request.", "")
			return
		}
		if n, ok := s.authorize(w, r, parts[0]); ok {
			s.phoneNumber(w, r, n)
		}
	default:
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "Unknown path components: /"+strings.Join(parts, "/"), "")
	}
}

func (s *Server) takeFailure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return Failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

// authorize checks the token the way Graph does: no token, an unknown
// token, and a token without access to the number each answer differently.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, phoneNumberID string) (Number, bool) {
	token := r.URL.Query().Get("access_token")
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(t)
	}
	s.mu.Lock()
	n, found := s.numbers[phoneNumberID]
	known := s.tokens[token]
	s.mu.Unlock()
	switch {
	case token == "":
		writeError(w, http.StatusBadRequest, 2500, 0, "OAuthException", "An active access token must be used to query information about the current user.", "")
	case !known:
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token - Cannot parse access token"`)
		writeError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
	case !found || n.Token != token:
		writeError(w, http.StatusBadRequest, 100, 33, "GraphMethodException",
			fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
				strings.ToLower(r.Method), phoneNumberID), "")
	default:
		return n, true
	}
	return Number{}, false
}

type mediaObject struct {
	ID       string `json:"id"`
	Link     string `json:"link"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type sendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Context          *struct {
		MessageID string `json:"message_id"`
	} `json:"context"`
	Text *struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	} `json:"text"`
	Template *struct {
		Name     string `json:"name"`
		Language *struct {
			Code string `json:"code"`
		} `json:"language"`
		Components json.RawMessage `json:"components"`
	} `json:"template"`
	Image       *mediaObject    `json:"image"`
	Audio       *mediaObject    `json:"audio"`
	Video       *mediaObject    `json:"video"`
	Document    *mediaObject    `json:"document"`
	Sticker     *mediaObject    `json:"sticker"`
	Location    json.RawMessage `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Interactive json.RawMessage `json:"interactive"`
	Reaction    json.RawMessage `json:"reaction"`
}

var messageTypes = []string{"text", "template", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "reaction"}

type sendResponse struct {
	MessagingProduct string            `json:"messaging_product"`
	Contacts         []responseContact `json:"contacts"`
	Messages         []responseMessage `json:"messages"`
}

type responseContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

type responseMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, n Number) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", err.Error())
		return
	}
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", "Request body is not valid JSON: "+err.Error())
		return
	}
	sent, bad := validate(&req)
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad.code, 0, "OAuthException", bad.message, bad.details)
		return
	}
	sent.PhoneNumberID = n.PhoneNumberID
	sent.Body = body

	s.mu.Lock()
	closed := s.closed[sent.WaID] || s.outsideWindow(n.PhoneNumberID, sent.WaID)
	bad = s.checkTemplate(n.PhoneNumberID, sent.Template)
	s.mu.Unlock()
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad.code, 0, "OAuthException", bad.message, bad.details)
		return
	}
	if closed && sent.Type != "template" {
		writeError(w, http.StatusBadRequest, 131047, 0, "OAuthException", "(#131047) Re-engagement message",
			"Message failed to send because more than 24 hours have passed since the customer last replied to this number.")
		return
	}

	sent.ID = NewWAMID()
	s.mu.Lock()
	sent.At = s.now()
	s.sent = append(s.sent, sent)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if s.onSend != nil {
		s.onSend(sent)
	}

	resp := sendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []responseContact{{Input: sent.To, WaID: sent.WaID}},
		Messages:         []responseMessage{{ID: sent.ID}},
	}
	if sent.Type == "template" {
		resp.Messages[0].MessageStatus = "accepted"
	}
	writeJSON(w, http.StatusOK, resp)
}

type invalid struct {
	code             int
	message, details string
}

func required(param string) *invalid {
	return &invalid{code: 100, message: "(#100) The parameter " + param + " is required."}
}

func missing(param string) *invalid {
	return &invalid{code: 131008, message: "(#131008) Required parameter is missing", details: "Parameter '" + param + "' is required."}
}

func badValue(details string) *invalid {
	return &invalid{code: 131009, message: "(#131009) Parameter value is not valid", details: details}
}

// validate checks a send the way the platform does and describes what it
// will record.
func validate(req *sendRequest) (SentMessage, *invalid) {
	var m SentMessage
	switch {
	case req.MessagingProduct == "":
		return m, required("messaging_product")
	case req.MessagingProduct != "whatsapp":
		return m, &invalid{code: 100, message: fmt.Sprintf("(#100) Param messaging_product must be one of {WHATSAPP} - got %q.", req.MessagingProduct)}
	case req.RecipientType != "" && req.RecipientType != "individual":
		return m, &invalid{code: 100, message: fmt.Sprintf("(#100) Param recipient_type must be one of {INDIVIDUAL} - got %q.", req.RecipientType)}
	case req.To == "":
		return m, required("to")
	}
	m.To, m.WaID = req.To, digits(req.To)
	if m.WaID == "" || len(m.WaID) > 15 {
		return m, badValue("Param to must be a phone number or wa_id.")
	}
	m.Type = req.Type
	if m.Type == "" {
		m.Type = "text" // the platform's default
	}
	if req.Context != nil {
		if req.Context.MessageID == "" {
			return m, missing("context.message_id")
		}
		m.ReplyToID = req.Context.MessageID
	}
	switch m.Type {
	case "text":
		if req.Text == nil || req.Text.Body == "" {
			return m, missing("text.body")
		}
		if utf8.RuneCountInString(req.Text.Body) > MaxTextLength {
			return m, &invalid{code: 100, message: "(#100) Param text['body'] must be at most " + strconv.Itoa(MaxTextLength) + " characters long."}
		}
		m.Text = req.Text.Body
	case "template":
		t := req.Template
		switch {
		case t == nil || t.Name == "":
			return m, missing("template.name")
		case t.Language == nil || t.Language.Code == "":
			return m, missing("template.language.code")
		}
		if len(t.Components) > 0 {
			var comps []json.RawMessage
			if json.Unmarshal(t.Components, &comps) != nil {
				return m, &invalid{code: 100, message: "(#100) Param template['components'] must be an array."}
			}
		}
		m.Template = &Template{Name: t.Name, Language: t.Language.Code, Components: t.Components}
	case "image", "audio", "video", "document", "sticker":
		o := map[string]*mediaObject{"image": req.Image, "audio": req.Audio, "video": req.Video, "document": req.Document, "sticker": req.Sticker}[m.Type]
		if o == nil {
			return m, missing(m.Type)
		}
		if (o.ID == "") == (o.Link == "") {
			return m, badValue("Exactly one of " + m.Type + ".id or " + m.Type + ".link is required.")
		}
		if o.Link != "" {
			u, err := url.Parse(o.Link)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return m, badValue("Param " + m.Type + ".link must be an http(s) URL.")
			}
		}
		m.Media = &Media{Type: m.Type, ID: o.ID, Link: o.Link, Caption: o.Caption, Filename: o.Filename}
		m.Text = o.Caption
	case "location", "contacts", "interactive", "reaction":
		// Accepted and recorded as raw bodies: the connector does not send
		// them, but other callers of the emulator may.
		if len(map[string]json.RawMessage{"location": req.Location, "contacts": req.Contacts, "interactive": req.Interactive, "reaction": req.Reaction}[m.Type]) == 0 {
			return m, missing(m.Type)
		}
	default:
		return m, &invalid{code: 100, message: fmt.Sprintf("(#100) Param type must be one of {%s} - got %q.", strings.ToUpper(strings.Join(messageTypes, ", ")), m.Type)}
	}
	return m, nil
}

var phoneFields = []string{"verified_name", "code_verification_status", "display_phone_number", "quality_rating", "platform_type", "throughput", "id"}

func (s *Server) phoneNumber(w http.ResponseWriter, r *http.Request, n Number) {
	all := map[string]any{
		"id":                       n.PhoneNumberID,
		"verified_name":            n.VerifiedName,
		"display_phone_number":     n.DisplayPhoneNumber,
		"code_verification_status": "VERIFIED",
		"quality_rating":           "GREEN",
		"platform_type":            "CLOUD_API",
		"throughput":               map[string]string{"level": "STANDARD"},
	}
	fields := phoneFields
	if f := r.URL.Query().Get("fields"); f != "" {
		fields = append(strings.Split(f, ","), "id") // Graph always answers the id
	}
	out := map[string]any{}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		v, ok := all[f]
		if !ok {
			writeError(w, http.StatusBadRequest, 100, 0, "OAuthException",
				fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessPhoneNumber)", f), "")
			return
		}
		out[f] = v
	}
	writeJSON(w, http.StatusOK, out)
}

type errorBody struct {
	Error struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         int    `json:"code"`
		ErrorSubcode int    `json:"error_subcode,omitempty"`
		ErrorData    *struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		} `json:"error_data,omitempty"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status, code, subcode int, typ, message, details string) {
	var b errorBody
	b.Error.Message, b.Error.Type, b.Error.Code, b.Error.ErrorSubcode = message, typ, code, subcode
	if details != "" {
		b.Error.ErrorData = &struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		}{"whatsapp", details}
	}
	b.Error.FBTraceID = randomToken(17)
	writeJSON(w, status, b)
}

func writeFailure(w http.ResponseWriter, f Failure) {
	status := f.HTTPStatus
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.Code == 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
		_, _ = io.WriteString(w, msg)
		return
	}
	msg := f.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeError(w, status, f.Code, f.Subcode, "OAuthException", msg, f.Details)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
