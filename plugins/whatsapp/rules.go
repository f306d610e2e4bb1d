package whatsapp

import (
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// rules are the Cloud API's limits, stated so the host can refuse what the
// platform would refuse before queuing it.
var rules = sdk.PlatformRules{
	Platform:       Platform,
	MaxReplyLength: 4096,
	ReplyWindows: []sdk.ReplyWindow{{
		ThreadKind: sdk.ThreadDirect,
		// The customer-service window: free-form messages only within 24
		// hours of the customer's last message, templates at any time.
		Window:           24 * time.Hour,
		TemplatesAllowed: true,
	}},
	Attachments: []sdk.MediaRule{
		{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png"}, MaxBytes: 5 << 20},
		{Kind: "video", MimeTypes: []string{"video/mp4", "video/3gpp"}, MaxBytes: 16 << 20},
		{Kind: "audio", MimeTypes: []string{"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg"}, MaxBytes: 16 << 20},
		{Kind: "document", MaxBytes: 100 << 20},
		{Kind: "sticker", MimeTypes: []string{"image/webp"}, MaxBytes: 500 << 10},
	},
	// One medium per message; its caption is the text.
	MaxAttachments: 1,
}
