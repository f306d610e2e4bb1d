package google

import "github.com/neksio/neksio/plugins/sdk"

// Post limits Google states for local posts.
const (
	MaxPostLength = 1500
	// MaxPhotoBytes is Google's limit on a post photo (5 MB); it also
	// refuses photos under 10 KB.
	MaxPhotoBytes = 5_000_000
)

// Post options (Post.Options keys).
const (
	OptCTAType       = "call_to_action_type"
	OptCTAURL        = "call_to_action_url"
	OptEventTitle    = "event_title"
	OptEventStart    = "event_start"
	OptEventEnd      = "event_end"
	OptOfferCoupon   = "offer_coupon_code"
	OptOfferRedeem   = "offer_redeem_url"
	OptOfferTerms    = "offer_terms"
	OptLanguageCode  = "language_code"
	formatStandard   = "standard"
	formatEvent      = "event"
	formatOffer      = "offer"
	scheduleDateHelp = "YYYY-MM-DD (all day) or YYYY-MM-DDTHH:MM[:SS], in the location's time zone"
)

// ctaTypes are Google's call-to-action types a post may carry. CALL dials
// the location's phone number and takes no URL.
var ctaTypes = []string{"BOOK", "ORDER", "SHOP", "LEARN_MORE", "SIGN_UP", "CALL"}

var photoRule = sdk.MediaRule{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png"}, MaxBytes: MaxPhotoBytes}

func postOptions(format string) []sdk.OptionRule {
	opts := []sdk.OptionRule{
		{Name: OptLanguageCode, Description: "BCP 47 language of the post, e.g. en or fr-CA (default en)"},
	}
	// Google ignores the button of an offer: its link is the redeem URL.
	if format != formatOffer {
		opts = append(opts,
			sdk.OptionRule{Name: OptCTAType, Description: "button under the post; every type but CALL needs a URL (call_to_action_url, or the post's link)", Values: ctaTypes},
			sdk.OptionRule{Name: OptCTAURL, Description: "where the button leads (default: the post's link)"},
		)
	}
	if format != formatStandard {
		opts = append(opts,
			sdk.OptionRule{Name: OptEventTitle, Description: "title of the event or offer", Required: true},
			sdk.OptionRule{Name: OptEventStart, Description: "start: " + scheduleDateHelp, Required: true},
			sdk.OptionRule{Name: OptEventEnd, Description: "end: " + scheduleDateHelp, Required: true},
		)
	}
	if format == formatOffer {
		opts = append(opts,
			sdk.OptionRule{Name: OptOfferCoupon, Description: "coupon code shown with the offer"},
			sdk.OptionRule{Name: OptOfferRedeem, Description: "where to redeem the offer online (default: the post's link)"},
			sdk.OptionRule{Name: OptOfferTerms, Description: "terms and conditions of the offer"},
		)
	}
	return opts
}

var rules = []sdk.PlatformRules{{
	Platform: Platform,
	// Replies are text only and have no window: a review can be answered
	// (and the answer replaced) at any time while it exists.
	MaxReplyBytes: MaxReplyBytes,
	Publish: []sdk.PublishRule{
		{Format: formatStandard, Description: "an update: text, an optional photo and button", MaxTextLength: MaxPostLength,
			TextRequired: true, MaxMedia: 1, Media: []sdk.MediaRule{photoRule}, Options: postOptions(formatStandard)},
		{Format: formatEvent, Description: "an event: title, start and end, text, an optional photo and button", MaxTextLength: MaxPostLength,
			MaxMedia: 1, Media: []sdk.MediaRule{photoRule}, Options: postOptions(formatEvent)},
		{Format: formatOffer, Description: "an offer: title, validity, coupon, redeem link and terms, text and an optional photo", MaxTextLength: MaxPostLength,
			MaxMedia: 1, Media: []sdk.MediaRule{photoRule}, Options: postOptions(formatOffer)},
	},
}}
