package publish

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	entmedia "github.com/neksio/neksio/ent/media"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/plugins/sdk"
)

// MediaInput is one media item of a post: an uploaded file or a public URL.
type MediaInput struct {
	MediaID pulid.ID
	URL     string
}

// TargetInput is a post on one channel.
type TargetInput struct {
	ChannelID pulid.ID
	// Text replaces the post's text on this channel when set.
	Text *string
	// Options are the platform options; "format" picks the post format.
	Options map[string]string
}

// FormatOption is the target option that picks the post format.
const FormatOption = "format"

// settingAllowPrivateMedia is the connectors' app setting that lets a
// platform emulator fetch media from a private or loopback host (dev).
const settingAllowPrivateMedia = "allow_private_media_urls"

// resolveMedia checks a post's media and describes them: uploaded files of
// the viewer's workspace, or public http(s) URLs of images and videos.
func (s *Service) resolveMedia(ctx context.Context, c *ent.Client, in []MediaInput) ([]schematype.PostMedia, error) {
	out := make([]schematype.PostMedia, 0, len(in))
	for i, m := range in {
		field := fmt.Sprintf("media[%d]", i)
		switch {
		case m.MediaID != "" && m.URL != "":
			return nil, apperr.Invalid(field, "give mediaId or url, not both")
		case m.MediaID != "":
			row, err := c.Media.Get(ctx, m.MediaID)
			if ent.IsNotFound(err) {
				e := apperr.NotFound("media")
				e.Field = field + ".mediaId"
				return nil, e
			}
			if err != nil {
				return nil, fmt.Errorf("publish: loading media: %w", err)
			}
			if row.Kind != entmedia.KindImage && row.Kind != entmedia.KindVideo {
				return nil, apperr.Invalid(field+".mediaId", "a post carries images and videos, not %s", row.MimeType)
			}
			out = append(out, schematype.PostMedia{MediaID: string(row.ID), Kind: strings.ToLower(string(row.Kind)),
				MimeType: row.MimeType, Size: row.Size})
		case m.URL != "":
			if err := media.CheckPublicURL(m.URL); err != nil {
				return nil, apperr.Invalid(field+".url", "media must be at a public URL: %v", err)
			}
			u, _ := url.Parse(m.URL)
			mt := mime.TypeByExtension(strings.ToLower(path.Ext(u.Path)))
			mt, _, _ = strings.Cut(mt, ";")
			kind := media.Kind(mt)
			if kind != entmedia.KindImage && kind != entmedia.KindVideo {
				return nil, apperr.Invalid(field+".url", "cannot tell an image or video from %q: use a URL ending in its extension (.jpg, .png, .mp4, …) or upload it (uploadMedia)", path.Base(u.Path))
			}
			out = append(out, schematype.PostMedia{URL: m.URL, Kind: strings.ToLower(string(kind)), MimeType: mt})
		default:
			return nil, apperr.Invalid(field, "give mediaId or url")
		}
	}
	return out, nil
}

// MaxTargets bounds a post's targets.
const MaxTargets = 50

// checkedTarget is a validated target.
type checkedTarget struct {
	in      TargetInput
	channel *ent.Channel
	format  string
	options map[string]string
}

// validate checks every target of a post against its platform's rules.
// The first failure is returned as BAD_USER_INPUT (NOT_FOUND for a
// channel the viewer cannot see) naming the field and the rule.
func (s *Service) validate(ctx context.Context, c *ent.Client, text string, med []schematype.PostMedia, targets []TargetInput) ([]checkedTarget, error) {
	if len(targets) == 0 {
		return nil, apperr.Invalid("targets", "a post needs at least one target channel")
	}
	if len(targets) > MaxTargets {
		return nil, apperr.Invalid("targets", "a post has at most %d targets", MaxTargets)
	}
	seen := map[pulid.ID]bool{}
	out := make([]checkedTarget, len(targets))
	for i, t := range targets {
		ct, err := s.validateTarget(ctx, c, i, text, med, t)
		if err != nil {
			return nil, err
		}
		if seen[t.ChannelID] {
			return nil, apperr.Invalid(fmt.Sprintf("targets[%d].channelId", i), "channel %s is targeted twice", t.ChannelID)
		}
		seen[t.ChannelID] = true
		out[i] = ct
	}
	return out, nil
}

func hasCap(caps []sdk.Capability, c sdk.Capability) bool { return slices.Contains(caps, c) }

// fits reports whether the post's media fit a format's counts and kinds.
func fits(r sdk.PublishRule, med []schematype.PostMedia) bool {
	if len(med) < r.MinMedia || (r.MaxMedia > 0 || len(r.Media) == 0) && len(med) > r.MaxMedia {
		return false
	}
	for _, m := range med {
		if _, ok := sdk.MediaRuleFor(r.Media, m.Kind); !ok {
			return false
		}
	}
	return true
}

func (s *Service) validateTarget(ctx context.Context, c *ent.Client, i int, postText string, med []schematype.PostMedia, t TargetInput) (checkedTarget, error) {
	prefix := fmt.Sprintf("targets[%d]", i)
	ct := checkedTarget{in: t, options: map[string]string{}}
	ch, err := c.Channel.Get(ctx, t.ChannelID)
	if ent.IsNotFound(err) {
		e := apperr.NotFound("channel")
		e.Field = prefix + ".channelId"
		return ct, e
	}
	if err != nil {
		return ct, fmt.Errorf("publish: loading channel: %w", err)
	}
	ct.channel = ch
	if ch.Status != entchannel.StatusActive {
		return ct, apperr.Invalid(prefix+".channelId", "channel %q is %s: reconnect it before publishing to it", ch.Name, ch.Status)
	}
	info, err := s.Connectors.Info(ch.Connector)
	if err != nil {
		return ct, apperr.Unavailable(err, "connector %s is not running", ch.Connector)
	}
	if !hasCap(info.Capabilities, sdk.CapPublish) {
		return ct, apperr.Invalid(prefix+".channelId", "channel %q (%s) cannot publish posts: its connector %s has no publish capability", ch.Name, ch.Platform, ch.Connector)
	}
	rules := (&sdk.Description{Rules: info.Rules}).RulesFor(ch.Platform)
	if rules == nil || len(rules.Publish) == 0 {
		return ct, apperr.Invalid(prefix+".channelId", "channel %q: connector %s states no publishing formats for %s", ch.Name, ch.Connector, ch.Platform)
	}
	for k, v := range t.Options {
		ct.options[k] = v
	}
	var rule sdk.PublishRule
	if f := strings.TrimSpace(ct.options[FormatOption]); f != "" {
		r, ok := rules.Format(f)
		if !ok {
			return ct, apperr.Invalid(prefix+".options.format", "%s has no %q posts (formats: %s)", ch.Platform, f, formats(rules))
		}
		rule = r
	} else {
		// The platform's default: the first format the media fit, else
		// the first format (whose rules then say what is missing).
		rule = rules.Publish[0]
		for _, r := range rules.Publish {
			if fits(r, med) {
				rule = r
				break
			}
		}
	}
	ct.format = rule.Format
	ct.options[FormatOption] = rule.Format
	what := fmt.Sprintf("%s %s posts", ch.Platform, rule.Format)

	text, textField := postText, "text"
	if t.Text != nil {
		text, textField = *t.Text, prefix+".text"
	}
	if rule.TextRequired && strings.TrimSpace(text) == "" {
		return ct, apperr.Invalid(textField, "%s need text", what)
	}
	if rule.MaxTextLength > 0 && sdk.TextLength(text) > rule.MaxTextLength {
		return ct, apperr.Invalid(textField, "the text is %d characters; %s take at most %d", sdk.TextLength(text), what, rule.MaxTextLength)
	}
	if rule.MaxHashtags > 0 && sdk.Hashtags(text) > rule.MaxHashtags {
		return ct, apperr.Invalid(textField, "the text has %d hashtags; %s take at most %d", sdk.Hashtags(text), what, rule.MaxHashtags)
	}
	if len(med) < rule.MinMedia {
		return ct, apperr.Invalid("media", "%s need at least %d media item(s) (%s), the post has %d", what, rule.MinMedia, kinds(rule.Media), len(med))
	}
	if max := rule.MaxMedia; (max > 0 || len(rule.Media) == 0) && len(med) > max {
		return ct, apperr.Invalid("media", "%s take at most %d media item(s), the post has %d", what, max, len(med))
	}
	app := s.Channels.AppFor(ch)
	allowPrivate := app.Settings[settingAllowPrivateMedia] == "true"
	for j, m := range med {
		f := fmt.Sprintf("media[%d]", j)
		mr, ok := sdk.MediaRuleFor(rule.Media, m.Kind)
		if !ok {
			return ct, apperr.Invalid(f, "%s take no %s (they take %s)", what, m.Kind, kinds(rule.Media))
		}
		if m.MimeType != "" && !mr.Accepts(m.MimeType) {
			return ct, apperr.Invalid(f, "%s take %s files of type %s, not %s", what, m.Kind, strings.Join(mr.MimeTypes, ", "), m.MimeType)
		}
		if mr.MaxBytes > 0 && m.Size > mr.MaxBytes {
			return ct, apperr.Invalid(f, "the %s is %d bytes; %s take at most %d", m.Kind, m.Size, what, mr.MaxBytes)
		}
		if m.MediaID != "" && !allowPrivate {
			if s.Media == nil || !s.Media.PublicHost() {
				return ct, apperr.Invalid(f, "%s cannot fetch uploaded media: NEKSIO_PUBLIC_URL must be set to a public http(s) URL of this server", ch.Platform)
			}
		}
	}
	allowed := map[string]sdk.OptionRule{}
	for _, o := range rule.Options {
		allowed[o.Name] = o
	}
	for k, v := range ct.options {
		if k == FormatOption {
			continue
		}
		o, ok := allowed[k]
		if !ok {
			return ct, apperr.Invalid(prefix+".options."+k, "%s have no option %q (options: %s)", what, k, optionNames(rule.Options))
		}
		if len(o.Values) > 0 && !slices.Contains(o.Values, v) {
			return ct, apperr.Invalid(prefix+".options."+k, "option %s of %s is one of %s, not %q", k, what, strings.Join(o.Values, ", "), v)
		}
	}
	for _, o := range rule.Options {
		if o.Required && strings.TrimSpace(ct.options[o.Name]) == "" {
			return ct, apperr.Invalid(prefix+".options."+o.Name, "%s need option %s (%s)", what, o.Name, o.Description)
		}
	}
	if hasCap(info.Capabilities, sdk.CapValidatePost) {
		if err := s.validateWithConnector(ctx, ch, text, med, ct, prefix); err != nil {
			return ct, err
		}
	}
	return ct, nil
}

// validateWithConnector asks the connector about rules that depend on the
// app or the account (sdk.PostValidator). Media URLs are placeholders:
// nothing is fetched or published.
func (s *Service) validateWithConnector(ctx context.Context, ch *ent.Channel, text string, med []schematype.PostMedia, ct checkedTarget, prefix string) error {
	conn, err := s.Connectors.Get(ch.Connector)
	if err != nil {
		return apperr.Unavailable(err, "connector %s is not running", ch.Connector)
	}
	pv, ok := conn.(sdk.PostValidator)
	if !ok {
		return nil
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return apperr.Invalid(prefix+".channelId", "channel %q: its credentials cannot be opened: reconnect it", ch.Name)
	}
	req := &sdk.PublishRequest{App: s.Channels.AppFor(ch), Credentials: creds, AccountID: ch.ExternalID, Platform: ch.Platform,
		Post: s.sdkPost(text, med, ct.format, ct.options, true), IdempotencyKey: "validate"}
	err = pv.ValidatePost(ctx, req)
	var se *sdk.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Class == sdk.ClassUnsupported:
		return nil
	case errors.As(err, &se) && se.Class == sdk.ClassRetryable:
		return apperr.Unavailable(err, "%s could not check the post now; try again", ch.Platform)
	case errors.As(err, &se):
		return apperr.Invalid(prefix, "%s refuses this post: %s", ch.Platform, se.Message)
	}
	return apperr.Unavailable(err, "%s could not check the post now; try again", ch.Platform)
}

// sdkPost is what a connector receives. Uploaded media get fresh signed
// URLs (placeholders when validating).
func (s *Service) sdkPost(text string, med []schematype.PostMedia, format string, options map[string]string, placeholder bool) sdk.Post {
	p := sdk.Post{Format: format, Text: text, Options: map[string]string{}}
	for k, v := range options {
		if k != FormatOption {
			p.Options[k] = v
		}
	}
	for _, m := range med {
		u := m.URL
		if m.MediaID != "" {
			if placeholder || s.Media == nil {
				u = "https://media.invalid/" + m.MediaID
			} else {
				u = s.Media.URL(pulid.ID(m.MediaID))
			}
		}
		p.Media = append(p.Media, sdk.Media{Type: m.Kind, URL: u})
	}
	return p
}

func formats(r *sdk.PlatformRules) string {
	var out []string
	for _, p := range r.Publish {
		out = append(out, p.Format)
	}
	return strings.Join(out, ", ")
}

func kinds(rs []sdk.MediaRule) string {
	if len(rs) == 0 {
		return "no media"
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.Kind)
	}
	return strings.Join(out, " or ")
}

func optionNames(os []sdk.OptionRule) string {
	if len(os) == 0 {
		return "none"
	}
	var out []string
	for _, o := range os {
		out = append(out, o.Name)
	}
	return strings.Join(out, ", ")
}
