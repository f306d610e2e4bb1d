package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Media, emulated: GET /{media-id} answers a download URL that works for a
// few minutes and only with the owning number's token; POST
// /{phone_number_id}/media uploads a file the way the Cloud API checks it.

// MediaURLTTL is how long a download URL works.
const MediaURLTTL = 5 * time.Minute

// extras is the emulator's state beyond sending.
type extras struct {
	strictWindow bool
	seen         map[windowKey]time.Time
	media        map[string]*StoredMedia
	urls         map[string]mediaURL // hash → the media it downloads
	expireNext   int
	wabas        map[string]string // phone number → WABA
	templates    map[string][]TemplateDef
}

// StoredMedia is a file the emulator holds: uploaded, or added as what a
// customer sent.
type StoredMedia struct {
	ID            string
	PhoneNumberID string
	MimeType      string
	Data          []byte
	SHA256        string // hex
	Uploaded      bool
}

type mediaURL struct {
	mediaID string
	expires time.Time
}

func (x *extras) init() {
	if x.media == nil {
		x.media, x.urls = map[string]*StoredMedia{}, map[string]mediaURL{}
		x.wabas, x.templates = map[string]string{}, map[string][]TemplateDef{}
	}
}

// AddMedia stores a file a customer sent to the number and returns its
// media id, for an inbound message (see MediaObject).
func (s *Server) AddMedia(phoneNumberID string, data []byte, mimeType string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store(phoneNumberID, data, mimeType, false).ID
}

func (s *Server) store(phoneNumberID string, data []byte, mimeType string, uploaded bool) *StoredMedia {
	s.x.init()
	sum := sha256.Sum256(data)
	m := &StoredMedia{ID: NewMediaID(), PhoneNumberID: phoneNumberID, MimeType: mimeType,
		Data: append([]byte(nil), data...), SHA256: hex.EncodeToString(sum[:]), Uploaded: uploaded}
	s.x.media[m.ID] = m
	return m
}

// Media returns a stored file by id.
func (s *Server) Media(id string) (StoredMedia, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	m, ok := s.x.media[id]
	if !ok {
		return StoredMedia{}, false
	}
	return *m, true
}

// ExpireNextMediaURLs makes the next n download URLs answered already
// expired, as when a download starts too late.
func (s *Server) ExpireNextMediaURLs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.expireNext = n
}

// MediaObject is an inbound message's media object for a stored file, to
// pass as Inbound.Object.
func MediaObject(id, mimeType, caption string, data []byte) map[string]any {
	sum := sha256.Sum256(data)
	o := map[string]any{"id": id, "mime_type": mimeType, "sha256": base64.StdEncoding.EncodeToString(sum[:])}
	if caption != "" {
		o["caption"] = caption
	}
	return o
}

// Upload limits per MIME type, as the Cloud API states them.
var uploadLimits = map[string]int{
	"image/jpeg": 5 << 20, "image/png": 5 << 20,
	"video/mp4": 16 << 20, "video/3gpp": 16 << 20,
	"audio/aac": 16 << 20, "audio/mp4": 16 << 20, "audio/mpeg": 16 << 20, "audio/amr": 16 << 20, "audio/ogg": 16 << 20,
	"text/plain": 100 << 20, "application/pdf": 100 << 20, "application/msword": 100 << 20,
	"application/vnd.ms-excel": 100 << 20, "application/vnd.ms-powerpoint": 100 << 20,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   100 << 20,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         100 << 20,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 << 20,
	"image/webp": 500 << 10,
}

// serveExtra routes what this file and templates.go add. It reports
// whether it answered.
func (s *Server) serveExtra(w http.ResponseWriter, r *http.Request, parts []string) bool {
	switch {
	case len(parts) == 2 && parts[1] == "media" && r.Method == http.MethodPost:
		if n, ok := s.authorize(w, r, parts[0]); ok {
			s.upload(w, r, n)
		}
	case len(parts) == 2 && parts[0] == "whatsapp_business" && parts[1] == "attachments" && r.Method == http.MethodGet:
		s.download(w, r)
	case len(parts) == 1 && parts[0] == "debug_token" && r.Method == http.MethodGet:
		s.debugToken(w, r)
	case len(parts) == 2 && parts[1] == "message_templates" && r.Method == http.MethodGet:
		s.listTemplates(w, r, parts[0])
	case len(parts) == 1 && r.Method == http.MethodGet && s.isMedia(parts[0]):
		s.mediaInfo(w, r, parts[0])
	default:
		return false
	}
	return true
}

func (s *Server) isMedia(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	_, ok := s.x.media[id]
	return ok
}

func bearer(r *http.Request) string {
	token := r.URL.Query().Get("access_token")
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(t)
	}
	return token
}

// baseURL is how the caller reached the emulator, mount prefix included
// (neksio sandbox serves it under /whatsapp).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	orig, _, _ := strings.Cut(r.RequestURI, "?")
	prefix := strings.TrimSuffix(orig, r.URL.Path)
	return scheme + "://" + r.Host + prefix
}

func (s *Server) mediaInfo(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	m := s.x.media[id]
	owner := s.numbers[m.PhoneNumberID]
	s.mu.Unlock()
	token := bearer(r)
	pn := r.URL.Query().Get("phone_number_id")
	switch {
	case token == "":
		writeError(w, http.StatusBadRequest, 2500, 0, "OAuthException", "An active access token must be used to query information about the current user.", "")
		return
	case !s.knownToken(token):
		writeError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	case token != owner.Token || pn != "" && pn != m.PhoneNumberID:
		writeError(w, http.StatusBadRequest, 100, 33, "GraphMethodException",
			"Unsupported get request. Object with ID '"+id+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "")
		return
	}
	hash := randomToken(24)
	s.mu.Lock()
	exp := s.now().Add(MediaURLTTL)
	if s.x.expireNext > 0 {
		s.x.expireNext--
		exp = s.now().Add(-time.Second)
	}
	s.x.urls[hash] = mediaURL{mediaID: id, expires: exp}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"url":               baseURL(r) + "/whatsapp_business/attachments/?mid=" + id + "&hash=" + hash,
		"mime_type":         m.MimeType,
		"sha256":            m.SHA256,
		"file_size":         len(m.Data),
		"id":                id,
	})
}

func (s *Server) knownToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[token]
}

// download serves a media URL: the owning number's token is required, and
// an expired URL answers 404 as the platform's does.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.x.init()
	u, ok := s.x.urls[r.URL.Query().Get("hash")]
	m := s.x.media[u.mediaID]
	now := s.now()
	s.mu.Unlock()
	switch {
	case !ok || m == nil || u.mediaID != r.URL.Query().Get("mid"):
		http.NotFound(w, r)
	case bearer(r) == "" || bearer(r) != s.tokenOf(m.PhoneNumberID):
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	case now.After(u.expires):
		http.Error(w, "URL expired", http.StatusNotFound)
	default:
		w.Header().Set("Content-Type", m.MimeType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
		_, _ = w.Write(m.Data)
	}
}

func (s *Server) tokenOf(phoneNumberID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.numbers[phoneNumberID].Token
}

// upload stores a multipart upload: messaging_product, type and file, with
// the platform's type and size checks (error 131053).
func (s *Server) upload(w http.ResponseWriter, r *http.Request, n Number) {
	r.Body = http.MaxBytesReader(w, r.Body, 101<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", "the upload is not a valid multipart form: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	if r.FormValue("messaging_product") != "whatsapp" {
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) The parameter file is required.", "")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid parameter", err.Error())
		return
	}
	typ := r.FormValue("type")
	if typ == "" {
		typ = hdr.Header.Get("Content-Type")
	}
	limit, ok := uploadLimits[typ]
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, 131053, 0, "OAuthException", "(#131053) Media upload error", "Unsupported media type "+typ)
		return
	case len(data) > limit:
		writeError(w, http.StatusBadRequest, 131053, 0, "OAuthException", "(#131053) Media upload error",
			"The file is "+strconv.Itoa(len(data))+" bytes; "+typ+" is limited to "+strconv.Itoa(limit))
		return
	}
	s.mu.Lock()
	m := s.store(n.PhoneNumberID, data, typ, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": m.ID})
}
