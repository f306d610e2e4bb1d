package sdk

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProtocolMinor is the minor version of protocol v1 this SDK speaks.
// Minor versions only add calls and fields; a host talks to plugins of
// every minor version, and a plugin built with an older SDK answers the
// calls it does not know as unsupported.
const ProtocolMinor = 1

// PlatformRules are one platform's limits, stated by its connector so the
// host can refuse what the platform would refuse before anything is
// queued (a reply too long, an attachment of the wrong type, a post
// without the video it needs).
type PlatformRules struct {
	Platform string
	// MaxReplyLength bounds a reply's text in characters, MaxReplyBytes in
	// UTF-8 bytes; zero means no known limit.
	MaxReplyLength int
	MaxReplyBytes  int
	// ReplyWindows say how long after the customer's last message a reply
	// is accepted, per kind of thread; a thread kind not listed has none.
	ReplyWindows []ReplyWindow
	// Attachments a reply may carry; empty means text only.
	Attachments    []MediaRule
	MaxAttachments int
	// Publish lists the post formats the platform takes; empty means the
	// platform cannot publish through this connector.
	Publish []PublishRule
}

// ReplyWindow is a platform's customer-service window on one kind of
// thread.
type ReplyWindow struct {
	ThreadKind ThreadKind
	// Window is how long after the customer's last message a free-form
	// reply is accepted.
	Window time.Duration
	// HumanAgentWindow, when set, is the longer window of a message
	// written by a person (Messenger's HUMAN_AGENT tag), for apps that
	// hold that permission.
	HumanAgentWindow time.Duration
	// TemplatesAllowed: outside the window a pre-approved template may
	// still be sent (WhatsApp).
	TemplatesAllowed bool
	// MaxMessages caps how many messages the business may send inside one
	// window, counted from the customer's last message; zero means no cap.
	MaxMessages int
}

// MediaRule is one kind of media a platform takes and its limits.
type MediaRule struct {
	// Kind: image, video, audio, document, sticker.
	Kind      string
	MimeTypes []string
	// MaxBytes is the largest file accepted; zero means no known limit.
	MaxBytes int64
}

// PublishRule describes one post format.
type PublishRule struct {
	// Format is what Post.Format names: feed, photo, carousel, reel,
	// story, video, standard, event, offer.
	Format        string
	Description   string
	MaxTextLength int
	MaxHashtags   int
	TextRequired  bool
	// MinMedia and MaxMedia bound the number of media items; Media lists
	// the kinds accepted.
	MinMedia int
	MaxMedia int
	Media    []MediaRule
	// Options are the Post.Options keys the format understands.
	Options []OptionRule
	// NativeScheduling: the platform itself holds a scheduled post.
	NativeScheduling bool
}

// OptionRule is one platform option of a post format.
type OptionRule struct {
	Name        string
	Description string
	// Values lists the accepted values; empty means free text.
	Values   []string
	Required bool
}

// RulesFor returns the rules d states for platform, or nil.
func (d *Description) RulesFor(platform string) *PlatformRules {
	if d == nil {
		return nil
	}
	for i := range d.Rules {
		if strings.EqualFold(d.Rules[i].Platform, platform) {
			return &d.Rules[i]
		}
	}
	return nil
}

// Window returns the reply window of thread kind k, if the platform has one.
func (r *PlatformRules) Window(k ThreadKind) (ReplyWindow, bool) {
	if r == nil {
		return ReplyWindow{}, false
	}
	for _, w := range r.ReplyWindows {
		if w.ThreadKind == k {
			return w, true
		}
	}
	return ReplyWindow{}, false
}

// Format returns the publish rule of format f, if the platform takes it.
func (r *PlatformRules) Format(f string) (PublishRule, bool) {
	if r == nil {
		return PublishRule{}, false
	}
	for _, p := range r.Publish {
		if strings.EqualFold(p.Format, f) {
			return p, true
		}
	}
	return PublishRule{}, false
}

// MediaRuleFor returns the rule for media kind in rules, if it is accepted.
func MediaRuleFor(rules []MediaRule, kind string) (MediaRule, bool) {
	for _, m := range rules {
		if strings.EqualFold(m.Kind, kind) {
			return m, true
		}
	}
	return MediaRule{}, false
}

// AttachmentKind names an attachment's kind the way MediaRule.Kind does
// (image, video, audio, document, or a platform's own such as sticker): its
// Type when set ("file" counts as document), else the major part of its
// MIME type, document for any other type, "" when both are empty.
func AttachmentKind(a Attachment) string {
	switch t := strings.ToLower(a.Type); t {
	case "file", "document":
		return "document"
	case "":
	default:
		return t
	}
	major, _, _ := strings.Cut(strings.ToLower(a.MimeType), "/")
	switch major {
	case "image", "video", "audio":
		return major
	case "":
		return ""
	}
	return "document"
}

// Accepts reports whether mimeType is among the rule's types (an empty
// list accepts any type of the kind).
func (m MediaRule) Accepts(mimeType string) bool {
	if len(m.MimeTypes) == 0 {
		return true
	}
	base, _, _ := strings.Cut(mimeType, ";")
	base = strings.TrimSpace(strings.ToLower(base))
	for _, t := range m.MimeTypes {
		if strings.EqualFold(t, base) {
			return true
		}
	}
	return false
}

// TextLength counts text the way platforms state their limits: in
// characters (Unicode code points).
func TextLength(text string) int { return utf8.RuneCountInString(text) }

// Hashtags counts the #hashtags in text (a '#' at the start of a word
// followed by a letter, digit or underscore).
func Hashtags(text string) int {
	n := 0
	prev := ' '
	runes := []rune(text)
	for i, r := range runes {
		if r == '#' && !isWordRune(prev) && i+1 < len(runes) && isWordRune(runes[i+1]) {
			n++
		}
		prev = r
	}
	return n
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
