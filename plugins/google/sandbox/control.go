package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ParseLocation splits "accounts/{a}/locations/{l}" into its ids.
func ParseLocation(name string) (accountID, locationID string, err error) {
	p := strings.Split(strings.Trim(name, "/"), "/")
	if len(p) != 4 || p[0] != "accounts" || p[2] != "locations" || p[1] == "" || p[3] == "" {
		return "", "", fmt.Errorf("sandbox: %q is not a location name (accounts/{a}/locations/{l})", name)
	}
	return p[1], p[3], nil
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// control serves /_sandbox/google/...: what a customer or Google does,
// for another process (neksio simulate) to drive a running emulator.
//
//	POST   locations                        {account, location, title}
//	POST   grant                            {accounts: [...]} → tokens
//	POST   revoke                           {refresh_token}
//	POST   reviews                          {location, reviewer, photo_url, anonymous, stars, text, at}
//	PATCH  accounts/{a}/locations/{l}/reviews/{r}        {stars, text}
//	DELETE accounts/{a}/locations/{l}/reviews/{r}
//	POST   accounts/{a}/locations/{l}/reviews/{r}/reply  {text}
//	POST   accounts/{a}/locations/{l}/localPosts/{p}/state {state}
//	POST   reject-next-post
//	POST   push-target                      {url, audience, service_account}
//	POST   rotate-key                       → {kid}
//	POST   fail                             {count, status, retry_after_seconds}
//	GET    replies, posts
//
// Review changes push NEW_REVIEW or UPDATED_REVIEW to the push target
// when one is set (a deletion pushes UPDATED_REVIEW, so the deletion
// path can be exercised) and answer the target's status as push_status.
func (s *Server) control(w http.ResponseWriter, r *http.Request, what string) {
	what = strings.Trim(what, "/")
	switch {
	case what == "locations" && r.Method == http.MethodPost:
		var in struct{ Account, Location, Title string }
		if err := decode(r, &in); err != nil || in.Account == "" || in.Location == "" {
			controlError(w, http.StatusBadRequest, "want {account, location, title}")
			return
		}
		s.AddLocation(in.Account, in.Location, in.Title)
		writeJSON(w, http.StatusOK, map[string]string{"name": "accounts/" + in.Account + "/locations/" + in.Location})
	case what == "grant" && r.Method == http.MethodPost:
		var in struct{ Accounts []string }
		if err := decode(r, &in); err != nil {
			controlError(w, http.StatusBadRequest, "want {accounts: [...]}")
			return
		}
		t := s.Grant(in.Accounts...)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": t.AccessToken, "refresh_token": t.RefreshToken, "expires_at": t.ExpiresAt})
	case what == "revoke" && r.Method == http.MethodPost:
		var in struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := decode(r, &in); err != nil || !s.RevokeRefreshToken(in.RefreshToken) {
			controlError(w, http.StatusNotFound, "no such refresh token")
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
	case what == "reviews" && r.Method == http.MethodPost:
		var in struct {
			Location  string    `json:"location"`
			Reviewer  string    `json:"reviewer"`
			PhotoURL  string    `json:"photo_url"`
			Anonymous bool      `json:"anonymous"`
			Stars     int       `json:"stars"`
			Text      string    `json:"text"`
			At        time.Time `json:"at"`
		}
		if err := decode(r, &in); err != nil {
			controlError(w, http.StatusBadRequest, "unreadable body: %v", err)
			return
		}
		a, l, err := ParseLocation(in.Location)
		if err != nil || in.Stars < 0 || in.Stars > 5 {
			controlError(w, http.StatusBadRequest, "want {location: accounts/{a}/locations/{l}, stars: 0-5, text, reviewer}")
			return
		}
		rv := s.CreateReview(a, l, NewReview{Reviewer: in.Reviewer, PhotoURL: in.PhotoURL, Anonymous: in.Anonymous, Stars: in.Stars, Text: in.Text, At: in.At})
		s.answerPushed(w, r, "NEW_REVIEW", rv)
	case strings.HasPrefix(what, "accounts/") && strings.HasSuffix(what, "/reply") && r.Method == http.MethodPost:
		var in struct{ Text string }
		name := strings.TrimSuffix(what, "/reply")
		if err := decode(r, &in); err != nil || in.Text == "" {
			controlError(w, http.StatusBadRequest, "want {text}")
			return
		}
		if err := s.SetReply(name, in.Text); err != nil {
			controlError(w, http.StatusNotFound, "%v", err)
			return
		}
		rv, _ := s.Review(name)
		s.answerPushed(w, r, "UPDATED_REVIEW", rv)
	case strings.HasPrefix(what, "accounts/") && strings.Contains(what, "/localPosts/") && strings.HasSuffix(what, "/state") && r.Method == http.MethodPost:
		var in struct{ State string }
		if err := decode(r, &in); err != nil || in.State == "" {
			controlError(w, http.StatusBadRequest, "want {state}")
			return
		}
		if err := s.SetPostState(strings.TrimSuffix(what, "/state"), in.State); err != nil {
			controlError(w, http.StatusNotFound, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"state": in.State})
	case strings.HasPrefix(what, "accounts/") && strings.Contains(what, "/reviews/") && r.Method == http.MethodPatch:
		var in struct {
			Stars int    `json:"stars"`
			Text  string `json:"text"`
		}
		if err := decode(r, &in); err != nil || in.Stars < 0 || in.Stars > 5 {
			controlError(w, http.StatusBadRequest, "want {stars: 0-5, text}")
			return
		}
		rv, err := s.EditReview(what, in.Stars, in.Text, time.Time{})
		if err != nil {
			controlError(w, http.StatusNotFound, "%v", err)
			return
		}
		s.answerPushed(w, r, "UPDATED_REVIEW", rv)
	case strings.HasPrefix(what, "accounts/") && strings.Contains(what, "/reviews/") && r.Method == http.MethodDelete:
		if err := s.DeleteReview(what); err != nil {
			controlError(w, http.StatusNotFound, "%v", err)
			return
		}
		s.answerPushed(w, r, "UPDATED_REVIEW", Review{Name: what})
	case what == "reject-next-post" && r.Method == http.MethodPost:
		s.RejectNextPost()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case what == "push-target" && r.Method == http.MethodPost:
		var in struct {
			URL            string `json:"url"`
			Audience       string `json:"audience"`
			ServiceAccount string `json:"service_account"`
		}
		if err := decode(r, &in); err != nil {
			controlError(w, http.StatusBadRequest, "want {url, audience, service_account}")
			return
		}
		s.SetPushTarget(PushTarget{URL: in.URL, Options: PushOptions{Audience: in.Audience, ServiceAccount: in.ServiceAccount}})
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case what == "rotate-key" && r.Method == http.MethodPost:
		writeJSON(w, http.StatusOK, map[string]string{"kid": s.RotateKey()})
	case what == "fail" && r.Method == http.MethodPost:
		var in struct {
			Count             int `json:"count"`
			Status            int `json:"status"`
			RetryAfterSeconds int `json:"retry_after_seconds"`
		}
		if err := decode(r, &in); err != nil || in.Count <= 0 || in.Status < 400 || in.Status > 599 {
			controlError(w, http.StatusBadRequest, "want {count > 0, status 4xx or 5xx, retry_after_seconds}")
			return
		}
		s.FailNext(in.Count, in.Status, time.Duration(in.RetryAfterSeconds)*time.Second)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case what == "replies" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Replies())
	case what == "posts" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Posts())
	default:
		controlError(w, http.StatusNotFound, "unknown control endpoint %s %s", r.Method, what)
	}
}

// answerPushed pushes the change to the push target, outside any lock:
// the receiver may call the emulator back before it answers.
func (s *Server) answerPushed(w http.ResponseWriter, r *http.Request, typ string, rv Review) {
	status, err := s.PushReview(r.Context(), typ, rv.Name)
	out := map[string]any{"review": rv, "push_status": status}
	if err != nil {
		out["push_error"] = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}
