package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// control serves /_sandbox/tiktok/...: what a separate process (neksio
// sandbox, neksio simulate) needs to set up and drive a running emulator.
// Bodies are JSON; errors are 400 with a text body.
func (s *Server) control(w http.ResponseWriter, r *http.Request, what string) {
	bad := func(msg string) { http.Error(w, msg, http.StatusBadRequest) }
	ok := func(v any) { writeJSON(w, http.StatusOK, v) }
	decode := func(v any) bool {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
			bad("want a JSON body: " + err.Error())
			return false
		}
		return true
	}
	if r.Method == http.MethodGet {
		switch what {
		case "sent":
			ok(s.SentMessages())
		case "publications":
			ok(s.Publications())
		default:
			http.NotFound(w, r)
		}
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch what {
	case "accounts":
		// Registers an account and answers tokens for it.
		var in struct {
			OpenID              string   `json:"open_id"`
			UnionID             string   `json:"union_id"`
			DisplayName         string   `json:"display_name"`
			Username            string   `json:"username"`
			AvatarURL           string   `json:"avatar_url"`
			PrivacyLevelOptions []string `json:"privacy_level_options"`
			CommentDisabled     bool     `json:"comment_disabled"`
			DuetDisabled        bool     `json:"duet_disabled"`
			StitchDisabled      bool     `json:"stitch_disabled"`
		}
		if !decode(&in) {
			return
		}
		if in.OpenID == "" {
			bad("open_id is required")
			return
		}
		s.AddAccount(Account{OpenID: in.OpenID, UnionID: in.UnionID, DisplayName: in.DisplayName, Username: in.Username,
			AvatarURL: in.AvatarURL, PrivacyLevelOptions: in.PrivacyLevelOptions, CommentDisabled: in.CommentDisabled,
			DuetDisabled: in.DuetDisabled, StitchDisabled: in.StitchDisabled})
		ok(tokensJSON(s.Grant(in.OpenID)))
	case "grant":
		var in struct {
			OpenID string   `json:"open_id"`
			Scopes []string `json:"scopes"`
		}
		if !decode(&in) {
			return
		}
		ok(tokensJSON(s.Grant(in.OpenID, in.Scopes...)))
	case "authorize":
		var in struct {
			OpenID      string   `json:"open_id"`
			RedirectURI string   `json:"redirect_uri"`
			Scopes      []string `json:"scopes"`
		}
		if !decode(&in) {
			return
		}
		ok(map[string]string{"code": s.AuthorizationCode(in.OpenID, in.RedirectURI, in.Scopes...)})
	case "deauthorize":
		var in struct {
			OpenID string `json:"open_id"`
			Reason int    `json:"reason"`
		}
		if !decode(&in) {
			return
		}
		s.Deauthorize(in.OpenID, in.Reason)
		ok(map[string]bool{"success": true})
	case "dm":
		// A customer writes: the window opens and the webhook goes to the
		// sink (if any); the body is answered for callers to deliver.
		var in struct {
			BusinessID    string `json:"business_id"`
			CustomerID    string `json:"customer_id"`
			CustomerName  string `json:"customer_name"`
			Type          string `json:"type"`
			Text          string `json:"text"`
			MediaURL      string `json:"media_url"`
			SharedVideoID string `json:"shared_video_id"`
			SharedURL     string `json:"shared_url"`
			Event         string `json:"event"`
		}
		if !decode(&in) {
			return
		}
		body, err := s.CustomerMessage(DM{BusinessID: in.BusinessID, CustomerID: in.CustomerID, CustomerName: in.CustomerName,
			Type: in.Type, Text: in.Text, MediaURL: in.MediaURL, SharedVideoID: in.SharedVideoID, SharedURL: in.SharedURL, Event: in.Event})
		if err != nil {
			bad(err.Error())
			return
		}
		s.emit(body)
		ok(map[string]any{"body": string(body), "sent_to_sink": s.sink != nil})
	case "observe":
		b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			bad(err.Error())
			return
		}
		s.Observe(b)
		ok(map[string]bool{"success": true})
	case "videos":
		var in struct {
			BusinessID string `json:"business_id"`
			Caption    string `json:"caption"`
		}
		if !decode(&in) {
			return
		}
		id, err := s.AddVideo(in.BusinessID, in.Caption)
		if err != nil {
			bad(err.Error())
			return
		}
		ok(map[string]string{"video_id": id})
	case "comments":
		var in struct {
			VideoID     string `json:"video_id"`
			ParentID    string `json:"parent_id"`
			UserID      string `json:"user_id"`
			Username    string `json:"username"`
			DisplayName string `json:"display_name"`
			Text        string `json:"text"`
			Hidden      bool   `json:"hidden"`
			Likes       int    `json:"likes"`
		}
		if !decode(&in) {
			return
		}
		c, err := s.AddComment(Comment{VideoID: in.VideoID, ParentID: in.ParentID, UserID: in.UserID, Username: in.Username,
			DisplayName: in.DisplayName, Text: in.Text, Hidden: in.Hidden, Likes: in.Likes})
		if err != nil {
			bad(err.Error())
			return
		}
		ok(map[string]string{"comment_id": c.ID, "video_id": c.VideoID, "parent_id": c.ParentID})
	case "comments/hide", "comments/delete":
		var in struct {
			CommentID string `json:"comment_id"`
			Hidden    *bool  `json:"hidden"`
		}
		if !decode(&in) {
			return
		}
		var err error
		if what == "comments/delete" {
			err = s.DeleteComment(in.CommentID)
		} else {
			err = s.HideComment(in.CommentID, in.Hidden == nil || *in.Hidden)
		}
		if err != nil {
			bad(err.Error())
			return
		}
		ok(map[string]bool{"success": true})
	case "publish/complete", "publish/fail":
		var in struct {
			PublishID string `json:"publish_id"`
			Reason    string `json:"reason"`
		}
		if !decode(&in) {
			return
		}
		var err error
		if what == "publish/fail" {
			err = s.FailPublish(in.PublishID, in.Reason)
		} else {
			err = s.CompletePublish(in.PublishID)
		}
		if err != nil {
			bad(err.Error())
			return
		}
		ok(map[string]bool{"success": true})
	case "publish/fail-next":
		var in struct {
			Reason string `json:"reason"`
		}
		if !decode(&in) {
			return
		}
		s.FailNextPublish(in.Reason)
		ok(map[string]bool{"success": true})
	case "fail":
		var in struct {
			Count             int    `json:"count"`
			API               string `json:"api"`
			HTTPStatus        int    `json:"http_status"`
			Code              string `json:"code"`
			BusinessCode      int    `json:"business_code"`
			Message           string `json:"message"`
			RetryAfterSeconds int    `json:"retry_after_seconds"`
		}
		if !decode(&in) {
			return
		}
		s.FailNext(max(in.Count, 1), Failure{API: in.API, HTTPStatus: in.HTTPStatus, Code: in.Code, BusinessCode: in.BusinessCode,
			Message: in.Message, RetryAfter: time.Duration(in.RetryAfterSeconds) * time.Second})
		ok(map[string]bool{"success": true})
	default:
		http.NotFound(w, r)
	}
}

func tokensJSON(t Tokens) map[string]any {
	return map[string]any{"open_id": t.OpenID, "access_token": t.AccessToken, "refresh_token": t.RefreshToken,
		"scopes": t.Scopes, "expires_in": t.ExpiresIn}
}
