package tiktok

import (
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Limits of the platform the connector states or enforces.
const (
	// MaxDMLength is the longest text a Business API message takes.
	MaxDMLength = 6000
	// MaxCommentLength is the longest comment (or comment reply).
	MaxCommentLength = 150
	// MaxCaptionLength bounds a post's caption, in UTF-16 code units.
	MaxCaptionLength = 2200
	// DMWindow is how long after the customer's last message the business
	// may answer; MaxDMsPerWindow caps its messages in that time. Both
	// come from third-party descriptions of the Business Messaging API,
	// not from public TikTok documentation (docs/tiktok.md).
	DMWindow        = 48 * time.Hour
	MaxDMsPerWindow = 10
	// MaxVideoBytes is the largest video TikTok accepts.
	MaxVideoBytes = 4 << 30
)

// Privacy levels of a post.
const (
	PrivacyPublic    = "PUBLIC_TO_EVERYONE"
	PrivacyFriends   = "MUTUAL_FOLLOW_FRIENDS"
	PrivacyFollowers = "FOLLOWER_OF_CREATOR"
	PrivacySelfOnly  = "SELF_ONLY"
)

var privacyLevels = []string{PrivacyPublic, PrivacyFriends, PrivacyFollowers, PrivacySelfOnly}

// Post.Options keys of a video post.
const (
	OptPrivacyLevel   = "privacy_level"
	OptDisableComment = "disable_comment"
	OptDisableDuet    = "disable_duet"
	OptDisableStitch  = "disable_stitch"
	OptCoverTimestamp = "video_cover_timestamp_ms"
	OptBrandContent   = "brand_content_toggle"
	OptBrandOrganic   = "brand_organic_toggle"
	OptAIGC           = "is_aigc"
)

var boolValues = []string{"true", "false"}

var videoRule = sdk.PublishRule{
	Format: "video",
	Description: "a TikTok video pulled from its URL; the text is the caption. An unaudited app (setting audited " +
		"not \"true\") may only post SELF_ONLY; the account's creator_info decides which privacy levels it offers",
	MaxTextLength: MaxCaptionLength,
	MinMedia:      1,
	MaxMedia:      1,
	Media: []sdk.MediaRule{{
		Kind:      "video",
		MimeTypes: []string{"video/mp4", "video/quicktime", "video/webm"},
		MaxBytes:  MaxVideoBytes,
	}},
	Options: []sdk.OptionRule{
		{Name: OptPrivacyLevel, Values: privacyLevels, Description: "who sees the post; default SELF_ONLY. " +
			"Unaudited apps: SELF_ONLY only. Otherwise one of the account's creator_info privacy_level_options"},
		{Name: OptDisableComment, Values: boolValues, Description: "turn comments off (forced on when the creator disabled them)"},
		{Name: OptDisableDuet, Values: boolValues, Description: "turn duets off (forced on when the creator disabled them)"},
		{Name: OptDisableStitch, Values: boolValues, Description: "turn stitches off (forced on when the creator disabled them)"},
		{Name: OptCoverTimestamp, Description: "the frame, in milliseconds, used as the cover"},
		{Name: OptBrandContent, Values: boolValues, Description: "paid partnership disclosure; cannot be SELF_ONLY"},
		{Name: OptBrandOrganic, Values: boolValues, Description: "promotes the creator's own business"},
		{Name: OptAIGC, Values: boolValues, Description: "the video is AI-generated"},
	},
}

// rules are TikTok's limits, stated so the host can refuse what TikTok
// would refuse before it queues anything. A comment reply's shorter limit
// (150 characters) is checked in Send: the rules hold one length per
// platform.
var rules = sdk.PlatformRules{
	Platform:       Platform,
	MaxReplyLength: MaxDMLength,
	ReplyWindows: []sdk.ReplyWindow{{
		ThreadKind:  sdk.ThreadDirect,
		Window:      DMWindow,
		MaxMessages: MaxDMsPerWindow,
	}},
	Publish: []sdk.PublishRule{videoRule},
}
