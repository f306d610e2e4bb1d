package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Templates belong to a WhatsApp Business Account (WABA); every number is
// in DefaultWABAID unless SetWABA says otherwise. A send of a template the
// number's WABA does not have (in that language, approved) fails 132001,
// one with the wrong number of body parameters 132000. A WABA with no
// template registered accepts any, so callers that never register
// templates keep working.

// TemplateDef is a template as GET /{waba}/message_templates lists it.
type TemplateDef struct {
	Name     string
	Language string
	Category string // MARKETING, UTILITY, AUTHENTICATION
	Status   string // APPROVED, PENDING, REJECTED, PAUSED, DISABLED
	// Components is the template's components array, as JSON.
	Components json.RawMessage
}

// SetWABA puts a number in a WhatsApp Business Account.
func (s *Server) SetWABA(phoneNumberID, wabaID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.wabas[phoneNumberID] = wabaID
}

// AddTemplate registers a template in a WABA.
func (s *Server) AddTemplate(wabaID string, t TemplateDef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.init()
	s.x.templates[wabaID] = append(s.x.templates[wabaID], t)
}

// wabaOf is the number's WABA; s.mu is held.
func (s *Server) wabaOf(phoneNumberID string) string {
	s.x.init()
	if w, ok := s.x.wabas[phoneNumberID]; ok {
		return w
	}
	return DefaultWABAID
}

// wabasOf lists the WABAs a token's numbers are in; s.mu is held.
func (s *Server) wabasOf(token string) []string {
	var out []string
	for _, n := range s.numbers {
		if n.Token == token {
			out = append(out, s.wabaOf(n.PhoneNumberID))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var bodyParam = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

func bodyParams(components json.RawMessage) int {
	var comps []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(components, &comps)
	seen := map[string]bool{}
	for _, c := range comps {
		if strings.EqualFold(c.Type, "BODY") {
			for _, m := range bodyParam.FindAllStringSubmatch(c.Text, -1) {
				seen[m[1]] = true
			}
		}
	}
	return len(seen)
}

// checkTemplate checks a template send against the number's WABA; s.mu is
// held.
func (s *Server) checkTemplate(phoneNumberID string, t *Template) *invalid {
	if t == nil {
		return nil
	}
	defs := s.x.templates[s.wabaOf(phoneNumberID)]
	if len(defs) == 0 {
		return nil
	}
	i := slices.IndexFunc(defs, func(d TemplateDef) bool { return d.Name == t.Name && d.Language == t.Language })
	if i < 0 || defs[i].Status != "APPROVED" {
		return &invalid{code: 132001, message: "(#132001) Template name does not exist in the translation",
			details: fmt.Sprintf("template name (%s) does not exist in %s", t.Name, t.Language)}
	}
	want := bodyParams(defs[i].Components)
	var comps []struct {
		Type       string            `json:"type"`
		Parameters []json.RawMessage `json:"parameters"`
	}
	_ = json.Unmarshal(t.Components, &comps)
	got := 0
	for _, c := range comps {
		if strings.EqualFold(c.Type, "body") {
			got += len(c.Parameters)
		}
	}
	if got != want {
		return &invalid{code: 132000, message: "(#132000) Number of parameters does not match the expected number of params",
			details: fmt.Sprintf("body: number of localizable_params (%d) does not match the expected number of params (%d)", got, want)}
	}
	return nil
}

// listTemplates answers GET /{waba}/message_templates, paged with cursors,
// for a token with a number in that WABA.
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request, waba string) {
	token := bearer(r)
	s.mu.Lock()
	known := s.tokens[token]
	allowed := slices.Contains(s.wabasOf(token), waba)
	defs := append([]TemplateDef(nil), s.x.templates[waba]...)
	s.mu.Unlock()
	switch {
	case token == "":
		writeError(w, http.StatusBadRequest, 2500, 0, "OAuthException", "An active access token must be used to query information about the current user.", "")
		return
	case !known:
		writeError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	case !allowed:
		writeError(w, http.StatusBadRequest, 100, 33, "GraphMethodException",
			"Unsupported get request. Object with ID '"+waba+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "")
		return
	}
	q := r.URL.Query()
	if st := q.Get("status"); st != "" {
		defs = slices.DeleteFunc(defs, func(d TemplateDef) bool { return d.Status != st })
	}
	limit := 25
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 {
		limit = min(v, 100)
	}
	start := 0
	if a := q.Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(defs) {
			writeError(w, http.StatusBadRequest, 100, 0, "OAuthException", "(#100) Invalid after cursor", "")
			return
		}
		start = n
	}
	end := min(start+limit, len(defs))
	data := []map[string]any{}
	for i, d := range defs[start:end] {
		item := map[string]any{"id": strconv.Itoa(1000 + start + i), "name": d.Name, "language": d.Language,
			"category": d.Category, "status": d.Status}
		if len(d.Components) > 0 {
			item["components"] = d.Components
		}
		data = append(data, item)
	}
	cursor := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n))) }
	paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end)}}
	if end < len(defs) {
		paging["next"] = baseURL(r) + r.URL.Path + "?after=" + cursor(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "paging": paging})
}

// debugToken answers GET /debug_token: the WABAs the token's numbers are
// in, as granular scopes (how an Embedded Signup token names them).
func (s *Server) debugToken(w http.ResponseWriter, r *http.Request) {
	token, input := bearer(r), r.URL.Query().Get("input_token")
	s.mu.Lock()
	known, valid := s.tokens[token], s.tokens[input]
	wabas := s.wabasOf(input)
	s.mu.Unlock()
	if !known {
		writeError(w, http.StatusUnauthorized, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token", "")
		return
	}
	data := map[string]any{"is_valid": valid, "type": "SYSTEM_USER"}
	if valid {
		data["scopes"] = []string{"whatsapp_business_management", "whatsapp_business_messaging"}
		data["granular_scopes"] = []map[string]any{
			{"scope": "whatsapp_business_management", "target_ids": wabas},
			{"scope": "whatsapp_business_messaging", "target_ids": wabas},
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
