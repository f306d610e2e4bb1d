package meta

import (
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Both platforms take a free-form DM within 24 hours of the person's last
// message; a message written by a person may go up to 7 days with the
// HUMAN_AGENT tag, for apps granted that permission. Comments have no
// window (a private reply to a comment has its own 7-day rule, which the
// host applies).
var dmWindow = sdk.ReplyWindow{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour, HumanAgentWindow: 7 * 24 * time.Hour}

var (
	jpegPNG   = []string{"image/jpeg", "image/png"}
	videoMP4  = []string{"video/mp4", "video/quicktime"}
	imageRule = sdk.MediaRule{Kind: "image", MimeTypes: jpegPNG, MaxBytes: 8 << 20}
)

var rules = []sdk.PlatformRules{
	{
		Platform:       PlatformFacebook,
		MaxReplyLength: 2000, // Messenger's text limit; comments allow more
		ReplyWindows:   []sdk.ReplyWindow{dmWindow},
		Attachments: []sdk.MediaRule{
			{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png", "image/gif"}, MaxBytes: 25 << 20},
			{Kind: "video", MaxBytes: 25 << 20},
			{Kind: "audio", MaxBytes: 25 << 20},
			{Kind: "document", MaxBytes: 25 << 20},
		},
		MaxAttachments: 1,
		Publish: []sdk.PublishRule{
			{Format: "feed", Description: "a Page post: text and an optional link", MaxTextLength: 63206, TextRequired: true, NativeScheduling: true},
			{Format: "photo", Description: "a Page photo post with a caption", MaxTextLength: 63206, MinMedia: 1, MaxMedia: 1,
				Media: []sdk.MediaRule{{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png", "image/gif"}, MaxBytes: 10 << 20}}, NativeScheduling: true},
		},
	},
	{
		Platform:       PlatformInstagram,
		MaxReplyLength: 1000,
		ReplyWindows:   []sdk.ReplyWindow{dmWindow},
		Attachments: []sdk.MediaRule{
			{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png", "image/gif"}, MaxBytes: 8 << 20},
			{Kind: "video", MimeTypes: videoMP4, MaxBytes: 25 << 20},
			{Kind: "audio", MaxBytes: 25 << 20},
		},
		MaxAttachments: 1,
		Publish: []sdk.PublishRule{
			{Format: "image", Description: "a feed post with one image", MaxTextLength: 2200, MaxHashtags: 30, MinMedia: 1, MaxMedia: 1,
				Media: []sdk.MediaRule{imageRule}},
			{Format: "carousel", Description: "a feed post with 2 to 10 images or videos", MaxTextLength: 2200, MaxHashtags: 30,
				MinMedia: 2, MaxMedia: maxCarouselSize, Media: []sdk.MediaRule{imageRule, {Kind: "video", MimeTypes: videoMP4, MaxBytes: 100 << 20}}},
			{Format: "reel", Description: "a reel: one video", MaxTextLength: 2200, MaxHashtags: 30, MinMedia: 1, MaxMedia: 1,
				Media: []sdk.MediaRule{{Kind: "video", MimeTypes: videoMP4, MaxBytes: 300 << 20}}},
			{Format: "story", Description: "a story: one image or video, no caption", MinMedia: 1, MaxMedia: 1,
				Media: []sdk.MediaRule{imageRule, {Kind: "video", MimeTypes: videoMP4, MaxBytes: 100 << 20}}},
		},
	},
}
