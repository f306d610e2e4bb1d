package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf16"
)

// Publication statuses.
const (
	StatusProcessingDownload = "PROCESSING_DOWNLOAD"
	StatusComplete           = "PUBLISH_COMPLETE"
	StatusFailed             = "FAILED"
)

// creatorInfo serves POST /v2/post/publish/creator_info/query/.
func (s *Server) creatorInfo(w http.ResponseWriter, r *http.Request) {
	acct, aerr := s.bearer(r, "video.publish")
	if aerr != nil {
		aerr.write(w)
		return
	}
	writeOK(w, map[string]any{
		"creator_avatar_url":          acct.AvatarURL,
		"creator_username":            acct.Username,
		"creator_nickname":            acct.DisplayName,
		"privacy_level_options":       acct.PrivacyLevelOptions,
		"comment_disabled":            acct.CommentDisabled,
		"duet_disabled":               acct.DuetDisabled,
		"stitch_disabled":             acct.StitchDisabled,
		"max_video_post_duration_sec": acct.MaxVideoPostDurationSec,
	})
}

// videoInit serves POST /v2/post/publish/video/init/ for PULL_FROM_URL:
// it checks the post like TikTok does, fetches nothing, and records the
// URL; the publication then progresses with status fetches.
func (s *Server) videoInit(w http.ResponseWriter, r *http.Request) {
	acct, aerr := s.bearer(r, "video.publish")
	if aerr != nil {
		aerr.write(w)
		return
	}
	var in struct {
		PostInfo *struct {
			Title          string `json:"title"`
			PrivacyLevel   string `json:"privacy_level"`
			DisableComment bool   `json:"disable_comment"`
			DisableDuet    bool   `json:"disable_duet"`
			DisableStitch  bool   `json:"disable_stitch"`
			BrandContent   bool   `json:"brand_content_toggle"`
			BrandOrganic   bool   `json:"brand_organic_toggle"`
			AIGC           bool   `json:"is_aigc"`
		} `json:"post_info"`
		SourceInfo *struct {
			Source   string `json:"source"`
			VideoURL string `json:"video_url"`
		} `json:"source_info"`
	}
	if err := readJSON(r, &in); err != nil {
		invalidParams("the body is not JSON").write(w)
		return
	}
	switch {
	case in.PostInfo == nil || in.SourceInfo == nil:
		invalidParams("post_info and source_info are required").write(w)
		return
	case in.SourceInfo.Source != "PULL_FROM_URL":
		invalidParams("the sandbox only takes source PULL_FROM_URL").write(w)
		return
	case len(utf16.Encode([]rune(in.PostInfo.Title))) > MaxCaptionLength:
		invalidParams("title exceeds %d UTF-16 runes", MaxCaptionLength).write(w)
		return
	}
	if u, err := url.Parse(in.SourceInfo.VideoURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		invalidParams("video_url must be an http(s) URL").write(w)
		return
	}
	p := in.PostInfo
	switch {
	case !slices.Contains(acct.PrivacyLevelOptions, p.PrivacyLevel):
		(&apiError{status: http.StatusBadRequest, code: "privacy_level_option_mismatch",
			message: fmt.Sprintf("privacy_level %q is not among the creator's options", p.PrivacyLevel)}).write(w)
		return
	case !s.audited && p.PrivacyLevel != "SELF_ONLY":
		(&apiError{status: http.StatusForbidden, code: "unaudited_client_can_only_post_to_private_accounts",
			message: "Unaudited clients can only post to a private account."}).write(w)
		return
	case p.BrandContent && p.PrivacyLevel == "SELF_ONLY":
		invalidParams("branded content cannot be private").write(w)
		return
	}
	s.mu.Lock()
	pub := &publication{Publication: Publication{
		PublishID: "v_pub_url~v2." + s.nextID(), OpenID: acct.OpenID, Title: p.Title, PrivacyLevel: p.PrivacyLevel,
		VideoURL: in.SourceInfo.VideoURL, DisableComment: p.DisableComment, DisableDuet: p.DisableDuet,
		DisableStitch: p.DisableStitch, BrandContent: p.BrandContent, BrandOrganic: p.BrandOrganic, AIGC: p.AIGC,
		Status: StatusProcessingDownload, At: s.now(),
	}, pollsLeft: s.statusPolls}
	if len(s.failPublish) > 0 {
		pub.FailReason, s.failPublish = s.failPublish[0], s.failPublish[1:]
	}
	s.pubs[pub.PublishID] = pub
	s.publications = append(s.publications, pub.PublishID)
	s.mu.Unlock()
	writeOK(w, map[string]any{"publish_id": pub.PublishID})
}

// finish ends a publication: completed, it becomes a video of the account
// (public ones get a post id); failed, it keeps its reason. It returns the
// webhooks TikTok sends. s.mu must be held.
func (s *Server) finish(p *publication) [][]byte {
	if p.Status != StatusProcessingDownload {
		return nil
	}
	p.pollsLeft = 0
	if p.FailReason != "" {
		p.Status = StatusFailed
		return [][]byte{PublishFailed(s.clientKey, p.OpenID, p.PublishID, p.FailReason)}
	}
	p.Status = StatusComplete
	p.VideoID = s.addVideo(p.OpenID, p.Title)
	out := [][]byte{PublishComplete(s.clientKey, p.OpenID, p.PublishID)}
	if p.PrivacyLevel == "PUBLIC_TO_EVERYONE" {
		p.PostID = p.VideoID
		out = append(out, PubliclyAvailable(s.clientKey, p.OpenID, p.PublishID, p.PostID))
	}
	return out
}

// CompletePublish ends a publication now, as PUBLISH_COMPLETE or, after
// FailNextPublish, FAILED, and sends the outcome's webhooks.
func (s *Server) CompletePublish(publishID string) error {
	s.mu.Lock()
	p, ok := s.pubs[publishID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("sandbox: unknown publish_id %q", publishID)
	}
	bodies := s.finish(p)
	s.mu.Unlock()
	s.emit(bodies...)
	return nil
}

// FailPublish ends a processing publication as FAILED with reason.
func (s *Server) FailPublish(publishID, reason string) error {
	s.mu.Lock()
	p, ok := s.pubs[publishID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("sandbox: unknown publish_id %q", publishID)
	}
	if p.Status == StatusProcessingDownload {
		p.FailReason = reason
	}
	bodies := s.finish(p)
	s.mu.Unlock()
	s.emit(bodies...)
	return nil
}

// statusFetch serves POST /v2/post/publish/status/fetch/: each fetch of a
// processing publication uses up one poll; the fetch after the last
// finishes it.
func (s *Server) statusFetch(w http.ResponseWriter, r *http.Request) {
	acct, aerr := s.bearer(r, "video.publish")
	if aerr != nil {
		aerr.write(w)
		return
	}
	var in struct {
		PublishID string `json:"publish_id"`
	}
	if err := readJSON(r, &in); err != nil || in.PublishID == "" {
		invalidParams("publish_id is required").write(w)
		return
	}
	s.mu.Lock()
	p, ok := s.pubs[in.PublishID]
	switch {
	case !ok:
		s.mu.Unlock()
		(&apiError{status: http.StatusBadRequest, code: "invalid_publish_id", message: "The publish_id does not exist."}).write(w)
		return
	case p.OpenID != acct.OpenID:
		s.mu.Unlock()
		(&apiError{status: http.StatusBadRequest, code: "token_not_authorized_for_specified_publish_id",
			message: "The access_token is not authorized for this publish_id."}).write(w)
		return
	}
	var bodies [][]byte
	if p.Status == StatusProcessingDownload {
		if p.pollsLeft > 0 {
			p.pollsLeft--
		} else {
			bodies = s.finish(p)
		}
	}
	data := map[string]any{"status": p.Status, "publicaly_available_post_id": []json.Number{}, "downloaded_bytes": 0}
	switch p.Status {
	case StatusFailed:
		data["fail_reason"] = p.FailReason
	case StatusComplete:
		data["downloaded_bytes"] = 1 << 20
		if p.PostID != "" {
			// Post ids are int64 in TikTok's answer: keep them numbers.
			if _, err := strconv.ParseInt(p.PostID, 10, 64); err == nil {
				data["publicaly_available_post_id"] = []json.Number{json.Number(p.PostID)}
			}
		}
	}
	s.mu.Unlock()
	writeOK(w, data)
	s.emit(bodies...)
}
