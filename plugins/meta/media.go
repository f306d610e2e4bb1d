package meta

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// mediaTimeout bounds one attachment download, body included.
const mediaTimeout = 2 * time.Minute

// mediaClient downloads inbound attachments. Unless the emulator-only
// setting allows private hosts, it connects to public addresses only.
func (c *connector) mediaClient(app sdk.App) *http.Client {
	if allowPrivateMedia(app) {
		return c.mediaAny
	}
	return c.mediaPublic
}

func allowPrivateMedia(app sdk.App) bool { return app.Settings[SettingAllowPrivateMedia] == "true" }

// FetchMedia downloads an inbound attachment. Messenger and Instagram hand
// out CDN URLs (payload.url) that need no token and expire after a while;
// an expired one cannot be renewed from the attachment alone.
func (c *connector) FetchMedia(ctx context.Context, req *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	raw := req.Attachment.URL
	if raw == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "the attachment has no URL to download")
	}
	if !allowPrivateMedia(req.App) {
		if err := sdk.CheckPublicURL(raw); err != nil {
			return nil, annotate(err, "attachment URL")
		}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "attachment URL: %v", err)
	}
	resp, err := c.mediaClient(req.App).Do(hreq)
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			return nil, annotate(se, "download the attachment")
		}
		return nil, sdk.NewError(sdk.ClassRetryable, "", "download the attachment: %v", unwrapURLError(err))
	}
	switch {
	case resp.StatusCode/100 == 2:
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		// Meta's CDN answers 403 ("URL signature expired") once the
		// signed URL's time is up.
		return nil, sdk.NewError(sdk.ClassPermanent, "expired", "the attachment's URL has expired or is gone (HTTP %d)", resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		resp.Body.Close()
		e := sdk.NewError(sdk.ClassRetryable, "", "download the attachment: HTTP %d", resp.StatusCode)
		e.RetryAfter = sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
		return nil, e
	default:
		resp.Body.Close()
		return nil, sdk.NewError(sdk.ClassPermanent, "", "download the attachment: HTTP %d", resp.StatusCode)
	}
	mc, err := sdk.MediaFromResponse(resp, req.MaxBytes, req.Attachment.Name)
	if err != nil {
		return nil, err
	}
	if mc.MimeType == "" || mc.MimeType == "application/octet-stream" {
		mc.MimeType = cmp.Or(req.Attachment.MimeType, mc.MimeType)
	}
	return mc, nil
}

// mediaKind is the SDK's attachment kind, with stickers sent as images
// (Messenger has no sticker attachment type).
func mediaKind(a sdk.Attachment) string {
	if k := sdk.AttachmentKind(a); k != "sticker" {
		return k
	}
	return "image"
}

// sendType is the Send API's attachment type for a kind.
func sendType(kind string) string {
	if kind == "document" {
		return "file"
	}
	return kind
}

// checkAttachments refuses, before anything is sent, attachments the
// platform would refuse: a kind it does not take (Instagram sends no
// documents), a MIME type outside the kind's, or a URL Meta cannot fetch.
// Sizes are the host's to check: it holds the file, the connector only
// its URL.
func checkAttachments(platform string, atts []sdk.Attachment, allowPrivate bool) error {
	r := (&sdk.Description{Rules: rules}).RulesFor(platform)
	if r == nil && len(atts) > 0 {
		return sdk.NewError(sdk.ClassPermanent, "", "unknown platform %q: want facebook or instagram", platform)
	}
	for i, a := range atts {
		if a.URL == "" {
			return sdk.NewError(sdk.ClassPermanent, "", "attachment %d has no URL: Meta sends attachments by URL", i+1)
		}
		kind := mediaKind(a)
		if kind == "" {
			return sdk.NewError(sdk.ClassPermanent, "", "attachment %d has neither a type nor a MIME type", i+1)
		}
		rule, ok := sdk.MediaRuleFor(r.Attachments, kind)
		if !ok {
			return sdk.NewError(sdk.ClassPermanent, "", "%s does not take %s attachments", platform, kind)
		}
		if a.MimeType != "" && !rule.Accepts(a.MimeType) {
			return sdk.NewError(sdk.ClassPermanent, "", "%s takes %s attachments of type %s, not %s",
				platform, kind, strings.Join(rule.MimeTypes, ", "), a.MimeType)
		}
		if !allowPrivate {
			if err := sdk.CheckPublicURL(a.URL); err != nil {
				return annotate(err, "attachments must be at a public URL Meta can fetch")
			}
		}
	}
	return nil
}
