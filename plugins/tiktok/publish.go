package tiktok

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/neksio/neksio/plugins/sdk"
)

const (
	creatorInfoPath = "/v2/post/publish/creator_info/query/"
	videoInitPath   = "/v2/post/publish/video/init/"
	statusFetchPath = "/v2/post/publish/status/fetch/"

	// lookupPages bounds the videos read when looking an interrupted
	// publication up by its caption.
	lookupPages = 5
)

// Publication statuses of status/fetch.
const (
	StatusProcessingUpload   = "PROCESSING_UPLOAD"
	StatusProcessingDownload = "PROCESSING_DOWNLOAD"
	StatusSentToInbox        = "SEND_TO_USER_INBOX"
	StatusComplete           = "PUBLISH_COMPLETE"
	StatusFailed             = "FAILED"
)

type creatorInfo struct {
	CreatorAvatarURL        string   `json:"creator_avatar_url"`
	CreatorUsername         string   `json:"creator_username"`
	CreatorNickname         string   `json:"creator_nickname"`
	PrivacyLevelOptions     []string `json:"privacy_level_options"`
	CommentDisabled         bool     `json:"comment_disabled"`
	DuetDisabled            bool     `json:"duet_disabled"`
	StitchDisabled          bool     `json:"stitch_disabled"`
	MaxVideoPostDurationSec int      `json:"max_video_post_duration_sec"`
}

type postInfo struct {
	Title          string `json:"title,omitempty"`
	PrivacyLevel   string `json:"privacy_level"`
	DisableComment bool   `json:"disable_comment"`
	DisableDuet    bool   `json:"disable_duet"`
	DisableStitch  bool   `json:"disable_stitch"`
	CoverMS        *int64 `json:"video_cover_timestamp_ms,omitempty"`
	BrandContent   bool   `json:"brand_content_toggle"`
	BrandOrganic   bool   `json:"brand_organic_toggle"`
	AIGC           bool   `json:"is_aigc,omitempty"`
}

type sourceInfo struct {
	Source   string `json:"source"`
	VideoURL string `json:"video_url"`
}

type videoInit struct {
	PostInfo   postInfo   `json:"post_info"`
	SourceInfo sourceInfo `json:"source_info"`
}

// plan checks a post against every rule that needs no call to TikTok
// and builds the init request.
func plan(req *sdk.PublishRequest) (*videoInit, error) {
	post := req.Post
	if post.Format != "" && !strings.EqualFold(post.Format, videoRule.Format) {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok takes video posts only, not %q", post.Format)
	}
	if !post.ScheduledAt.IsZero() {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok has no native scheduling: schedule the post in Neksio instead")
	}
	if len(post.Media) != 1 || post.Media[0].Type != "" && post.Media[0].Type != "video" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a TikTok post is exactly one video (got %d media)", len(post.Media))
	}
	if err := checkMediaURL(post.Media[0].URL, req.App.Settings[SettingAllowPrivateMedia] == "true"); err != nil {
		return nil, err
	}
	caption := cmp.Or(post.Text, post.Title)
	if n := len(utf16.Encode([]rune(caption))); n > MaxCaptionLength {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "a TikTok caption holds at most %d UTF-16 units, not %d", MaxCaptionLength, n)
	}
	opt := func(k string) string { return strings.TrimSpace(post.Options[k]) }
	info := postInfo{Title: caption, PrivacyLevel: cmp.Or(strings.ToUpper(opt(OptPrivacyLevel)), PrivacySelfOnly)}
	if !slices.Contains(privacyLevels, info.PrivacyLevel) {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "privacy_level %q is not one of %s", info.PrivacyLevel, strings.Join(privacyLevels, ", "))
	}
	if !audited(req.App) && info.PrivacyLevel != PrivacySelfOnly {
		return nil, sdk.NewError(sdk.ClassPermanent, "unaudited_client_can_only_post_to_private_accounts",
			"this TikTok app has not passed TikTok's audit, so it may only post privately (privacy_level SELF_ONLY), not %s; "+
				"set NEKSIO_TIKTOK_AUDITED=true once TikTok has audited the app", info.PrivacyLevel)
	}
	for k, dst := range map[string]*bool{
		OptDisableComment: &info.DisableComment, OptDisableDuet: &info.DisableDuet, OptDisableStitch: &info.DisableStitch,
		OptBrandContent: &info.BrandContent, OptBrandOrganic: &info.BrandOrganic, OptAIGC: &info.AIGC,
	} {
		v := opt(k)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "option %s must be true or false, not %q", k, v)
		}
		*dst = b
	}
	if v := opt(OptCoverTimestamp); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "option %s must be a non-negative number of milliseconds, not %q", OptCoverTimestamp, v)
		}
		info.CoverMS = &ms
	}
	if info.BrandContent && info.PrivacyLevel == PrivacySelfOnly {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "branded content (brand_content_toggle) cannot be posted privately (SELF_ONLY)")
	}
	return &videoInit{PostInfo: info, SourceInfo: sourceInfo{Source: "PULL_FROM_URL", VideoURL: post.Media[0].URL}}, nil
}

// applyCreator checks the plan against the account's creator_info and
// turns off the interactions the creator turned off.
func (v *videoInit) applyCreator(ci *creatorInfo) error {
	p := &v.PostInfo
	if len(ci.PrivacyLevelOptions) > 0 && !slices.Contains(ci.PrivacyLevelOptions, p.PrivacyLevel) {
		return sdk.NewError(sdk.ClassPermanent, "privacy_level_option_mismatch",
			"the account does not offer privacy_level %s (it offers %s)", p.PrivacyLevel, strings.Join(ci.PrivacyLevelOptions, ", "))
	}
	p.DisableComment = p.DisableComment || ci.CommentDisabled
	p.DisableDuet = p.DisableDuet || ci.DuetDisabled
	p.DisableStitch = p.DisableStitch || ci.StitchDisabled
	return nil
}

// checkMediaURL refuses URLs TikTok's servers cannot pull. It looks at the
// URL only (no DNS lookup); TikTok also requires the domain to be verified
// for the app, which only TikTok can check.
func checkMediaURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return sdk.NewError(sdk.ClassPermanent, "", "the video must be at a public http(s) URL, not %q", raw)
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return sdk.NewError(sdk.ClassPermanent, "", "the video must be at a public URL: %s is a local host name", host)
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast()) {
		return sdk.NewError(sdk.ClassPermanent, "", "the video must be at a public URL: %s is not a public address", host)
	}
	return nil
}

func (c *connector) creatorInfo(ctx context.Context, app sdk.App, token string) (*creatorInfo, error) {
	var ci creatorInfo
	if err := c.openCall(ctx, app, token, http.MethodPost, creatorInfoPath, nil, struct{}{}, &ci); err != nil {
		return nil, annotate(err, "creator_info")
	}
	return &ci, nil
}

// ValidatePost checks a post without publishing it: the static rules, the
// audit rule (an unaudited app may only post SELF_ONLY) and, when the
// channel's token is at hand, the account's creator_info privacy options.
func (c *connector) ValidatePost(ctx context.Context, req *sdk.PublishRequest) error {
	init, err := plan(req)
	if err != nil {
		return err
	}
	if req.Credentials.AccessToken == "" {
		return nil
	}
	ci, err := c.creatorInfo(ctx, req.App, req.Credentials.AccessToken)
	if err != nil {
		return err
	}
	return init.applyCreator(ci)
}

// Publish reads the account's creator_info, then asks TikTok to pull the
// video from its URL. The answer is "processing" with the publish_id;
// PublishStatus (or a post.publish.* webhook) tells how it ends.
func (c *connector) Publish(ctx context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	init, err := plan(req)
	if err != nil {
		return nil, err
	}
	token := req.Credentials.AccessToken
	ci, err := c.creatorInfo(ctx, req.App, token)
	if err != nil {
		return nil, err
	}
	if err := init.applyCreator(ci); err != nil {
		return nil, err
	}
	var out struct {
		PublishID flexString `json:"publish_id"`
	}
	if err := c.openCall(ctx, req.App, token, http.MethodPost, videoInitPath, nil, init, &out); err != nil {
		return nil, annotate(err, "video init")
	}
	if out.PublishID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "TikTok answered the video init without a publish_id")
	}
	return &sdk.PublishResult{ExternalID: string(out.PublishID), State: sdk.PublishProcessing}, nil
}

type publishStatus struct {
	Status     string       `json:"status"`
	FailReason string       `json:"fail_reason"`
	PostIDs    []flexString `json:"publicaly_available_post_id"` // sic: TikTok's spelling
	PostIDsFix []flexString `json:"publicly_available_post_id"`
}

// PublishStatus reports on a publication by its publish_id: processing,
// published (with the public post's URL once TikTok names it; private
// posts have none), or failed with TikTok's fail_reason. ExternalID stays
// the publish_id, the handle the host holds. Without an ExternalID it
// looks the post up instead (see lookup).
func (c *connector) PublishStatus(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	if req.ExternalID == "" {
		return c.lookup(ctx, req)
	}
	var st publishStatus
	if err := c.openCall(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, statusFetchPath, nil,
		map[string]string{"publish_id": req.ExternalID}, &st); err != nil {
		return nil, annotate(err, "status fetch")
	}
	res := &sdk.PublishResult{ExternalID: req.ExternalID}
	switch st.Status {
	case StatusComplete:
		res.State = sdk.PublishPublished
		ids := append(st.PostIDs, st.PostIDsFix...)
		if len(ids) > 0 && ids[0] != "" {
			res.URL = c.postURL(ctx, req, string(ids[0]))
		}
	case StatusFailed:
		res.State = sdk.PublishFailed
		res.Error = failError(cmp.Or(st.FailReason, "unknown"))
	default:
		// PROCESSING_UPLOAD, PROCESSING_DOWNLOAD, SEND_TO_USER_INBOX and
		// anything newer: not over yet.
		res.State = sdk.PublishProcessing
	}
	return res, nil
}

// postURL builds a post's address. The username comes from the channel's
// credentials, else from creator_info; without it there is no URL (the
// publication stays published: a URL only improves the result).
func (c *connector) postURL(ctx context.Context, req *sdk.PublishStatusRequest, postID string) string {
	username := req.Credentials.Extra[ExtraUsername]
	if username == "" {
		if ci, err := c.creatorInfo(ctx, req.App, req.Credentials.AccessToken); err == nil {
			username = ci.CreatorUsername
		}
	}
	if username == "" {
		return ""
	}
	return "https://www.tiktok.com/@" + url.PathEscape(strings.TrimPrefix(username, "@")) + "/video/" + url.PathEscape(postID)
}

// lookup answers whether a publication interrupted before its publish_id
// was recorded went out. TikTok cannot look a publication up by any key of
// ours, so the connector reads the account's recent videos (newest first,
// down to Since) for one whose caption is the post's: found, it answers
// published with that video. Not found proves nothing (the video may still
// be processing, or be private and unlisted), so it never answers
// PublishNotFound: it fails permanently, asking a person to check the
// account before publishing again.
func (c *connector) lookup(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	if req.Post == nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no publish_id, and no post to look for")
	}
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "no account id (business_id)")
	}
	caption := strings.TrimSpace(cmp.Or(req.Post.Text, req.Post.Title))
	sreq := &sdk.SyncRequest{App: req.App, Credentials: req.Credentials, AccountID: req.AccountID}
	since := req.Since
	if !since.IsZero() {
		since = since.Add(-sinceOverlap)
	}
	cursor := ""
	for range lookupPages {
		page, err := c.videoPage(ctx, sreq, cursor)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Videos {
			created := epoch(v.CreateTime)
			if !since.IsZero() && !created.IsZero() && created.Before(since) {
				return nil, notFoundError(req)
			}
			if caption != "" && strings.TrimSpace(v.Caption) == caption {
				return &sdk.PublishResult{ExternalID: cmp.Or(string(v.ItemID), string(v.ID)), State: sdk.PublishPublished,
					URL: cmp.Or(v.ShareURL, v.EmbedURL)}, nil
			}
		}
		next := string(page.Cursor)
		if !page.HasMore || next == "" || next == cursor {
			break
		}
		cursor = next
	}
	return nil, notFoundError(req)
}

func notFoundError(req *sdk.PublishStatusRequest) error {
	return sdk.NewError(sdk.ClassPermanent, "lookup_inconclusive",
		"TikTok cannot look a publication up by idempotency key, and no recent video of the account has this caption: "+
			"it may still be processing or be private; check the account before publishing again (key %s)", req.IdempotencyKey)
}
