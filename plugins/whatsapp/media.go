package whatsapp

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Settings for media.
const (
	// SettingAllowPrivateMedia lets media URLs point at loopback or private
	// hosts. The Cloud API cannot reach them, so only the emulator (served
	// on 127.0.0.1) needs it.
	SettingAllowPrivateMedia = "allow_private_media_urls"
	// SettingUploadMedia "true" uploads outbound attachments to the Cloud
	// API (POST /{phone_number_id}/media) and sends them by media id,
	// instead of sending their URL for WhatsApp to fetch: for hosts whose
	// media URLs WhatsApp cannot reach.
	SettingUploadMedia = "upload_media"
)

// mediaTimeout bounds one download or upload, body included.
const mediaTimeout = 5 * time.Minute

func allowPrivateMedia(app sdk.App) bool { return app.Settings[SettingAllowPrivateMedia] == "true" }

type mediaInfo struct {
	URL      string     `json:"url"`
	MimeType string     `json:"mime_type"`
	SHA256   string     `json:"sha256"`
	FileSize flexString `json:"file_size"`
	ID       flexString `json:"id"`
}

// FetchMedia downloads an inbound medium: the webhook names it by id, GET
// /{media-id} gives a URL that works for a few minutes and only with the
// channel's token. The declared size is checked before downloading and
// the declared SHA-256 when the body ends.
func (c *connector) FetchMedia(ctx context.Context, req *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	id := req.Attachment.ExternalID
	if id == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: the attachment has no media id")
	}
	var lastErr error
	// A URL may expire between the lookup and the download: look it up
	// again once.
	for range 2 {
		info, err := c.mediaInfo(ctx, req, id)
		if err != nil {
			return nil, err
		}
		mc, err := c.download(ctx, req, info)
		if err == nil {
			return mc, nil
		}
		if e, ok := err.(*sdk.Error); !ok || e.Code != "expired" {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func (c *connector) mediaInfo(ctx context.Context, req *sdk.FetchMediaRequest, id string) (*mediaInfo, error) {
	q := url.Values{}
	if req.AccountID != "" {
		// The platform checks the medium belongs to this number.
		q.Set("phone_number_id", req.AccountID)
	}
	var info mediaInfo
	if err := c.call(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, url.PathEscape(id), q, nil, &info); err != nil {
		var e *sdk.Error
		if errors.As(err, &e) && e.Class == sdk.ClassPermanent {
			e.Message += " (a medium is kept 30 days)"
		}
		return nil, err
	}
	if info.URL == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: media %s has no download URL", id)
	}
	var size int64
	if _, err := fmt.Sscan(string(info.FileSize), &size); err == nil && req.MaxBytes > 0 && size > req.MaxBytes {
		return nil, sdk.NewError(sdk.ClassPermanent, sdk.CodeTooLarge, "whatsapp: media %s is %d bytes, more than the %d accepted", id, size, req.MaxBytes)
	}
	return &info, nil
}

func (c *connector) download(ctx context.Context, req *sdk.FetchMediaRequest, info *mediaInfo) (*sdk.MediaContent, error) {
	allow := allowPrivateMedia(req.App)
	if !allow {
		if err := sdk.CheckPublicURL(info.URL); err != nil {
			return nil, err
		}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, info.URL, nil)
	if err != nil {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: media URL: %v", err)
	}
	// The download needs the same token as the lookup.
	hreq.Header.Set("Authorization", "Bearer "+req.Credentials.AccessToken)
	resp, err := c.mediaClient(allow).Do(hreq)
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, sdk.NewError(sdk.ClassRetryable, "", "whatsapp: download media: %v", unwrapURLError(err))
	}
	switch {
	case resp.StatusCode/100 == 2:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, sdk.NewError(sdk.ClassPermanent, "expired", "whatsapp: the media URL has expired or is refused (HTTP %d)", resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		resp.Body.Close()
		e := sdk.NewError(sdk.ClassRetryable, "", "whatsapp: download media: HTTP %d", resp.StatusCode)
		e.RetryAfter = sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
		return nil, e
	default:
		resp.Body.Close()
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: download media: HTTP %d", resp.StatusCode)
	}
	mc, err := sdk.MediaFromResponse(resp, req.MaxBytes, req.Attachment.Name)
	if err != nil {
		return nil, err
	}
	if base, _, _ := strings.Cut(info.MimeType, ";"); base != "" && (mc.MimeType == "" || mc.MimeType == "application/octet-stream") {
		mc.MimeType = strings.TrimSpace(strings.ToLower(base))
	}
	if info.SHA256 != "" {
		mc.Body = &verified{ReadCloser: mc.Body, h: sha256.New(), want: info.SHA256}
	}
	return mc, nil
}

func (c *connector) mediaClient(allowPrivate bool) *http.Client {
	if allowPrivate {
		return c.mediaAny
	}
	return c.mediaPublic
}

// verified fails the body's end when its SHA-256 is not the declared one
// (the platform gives it as hex; webhooks as base64).
type verified struct {
	io.ReadCloser
	h    hash.Hash
	want string
}

func (v *verified) Read(p []byte) (int, error) {
	n, err := v.ReadCloser.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		sum := v.h.Sum(nil)
		if !strings.EqualFold(hex.EncodeToString(sum), v.want) && base64.StdEncoding.EncodeToString(sum) != v.want {
			return n, sdk.NewError(sdk.ClassPermanent, "sha256", "whatsapp: the downloaded media does not match its SHA-256")
		}
	}
	return n, err
}

// checkAttachment refuses before any call what the Cloud API would: a kind
// it does not send, a MIME type outside the kind's, a URL it cannot fetch
// (by link). Sizes are checked where the file is: by the host, which holds
// it, or here when uploading.
func checkAttachment(a sdk.Attachment, byLink bool, allowPrivate bool) (sdk.MediaRule, error) {
	kind := sdk.AttachmentKind(a)
	rule, ok := sdk.MediaRuleFor(rules.Attachments, kind)
	if !ok {
		return rule, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: attachment type %q cannot be sent", cmp.Or(a.Type, a.MimeType))
	}
	if a.MimeType != "" && !rule.Accepts(a.MimeType) {
		return rule, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: %s attachments must be %s, not %s", kind, strings.Join(rule.MimeTypes, ", "), a.MimeType)
	}
	if byLink && a.URL != "" && !allowPrivate {
		if err := sdk.CheckPublicURL(a.URL); err != nil {
			e := *err.(*sdk.Error)
			e.Message = "whatsapp: media sent by link must be at a public URL WhatsApp can fetch (or set upload_media): " + e.Message
			return rule, &e
		}
	}
	return rule, nil
}

// upload downloads the attachment from its URL (the host's media store,
// wherever it is: the host hands only its own URLs) and uploads it to the
// number's media, returning the media id to send. The rule's size and
// types are enforced on what was downloaded.
func (c *connector) upload(ctx context.Context, req *sdk.SendRequest, a sdk.Attachment, rule sdk.MediaRule) (string, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return "", sdk.NewError(sdk.ClassPermanent, "", "whatsapp: attachment URL: %v", err)
	}
	resp, err := c.mediaAny.Do(hreq)
	if err != nil {
		return "", sdk.NewError(sdk.ClassRetryable, "", "whatsapp: fetch the attachment: %v", unwrapURLError(err))
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		class := sdk.ClassPermanent
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			class = sdk.ClassRetryable
		}
		return "", sdk.NewError(class, "", "whatsapp: fetch the attachment: HTTP %d", resp.StatusCode)
	}
	mc, err := sdk.MediaFromResponse(resp, rule.MaxBytes, a.Name)
	if err != nil {
		return "", annotateErr(err, "whatsapp: "+rule.Kind+" attachments are limited")
	}
	defer mc.Body.Close()
	mimeType := cmp.Or(a.MimeType, mc.MimeType)
	if !rule.Accepts(mimeType) {
		return "", sdk.NewError(sdk.ClassPermanent, "", "whatsapp: %s attachments must be %s, not %s", rule.Kind, strings.Join(rule.MimeTypes, ", "), mimeType)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	werr := make(chan error, 1)
	go func() {
		err := func() error {
			if err := mw.WriteField("messaging_product", "whatsapp"); err != nil {
				return err
			}
			if err := mw.WriteField("type", mimeType); err != nil {
				return err
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, cmp.Or(mc.Name, "file")))
			h.Set("Content-Type", mimeType)
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, mc.Body); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
		werr <- err
	}()
	var out struct {
		ID flexString `json:"id"`
	}
	err = c.callBody(ctx, req.App, req.Credentials.AccessToken, http.MethodPost, url.PathEscape(req.AccountID)+"/media",
		pr, mw.FormDataContentType(), &out)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer if the call ended early
	var e *sdk.Error
	if errors.As(<-werr, &e) {
		// The file broke the rule while streaming (too large): that, not
		// the aborted upload, is the error.
		return "", annotateErr(e, "whatsapp: "+rule.Kind+" attachments are limited")
	}
	if err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", sdk.NewError(sdk.ClassPermanent, "", "whatsapp: the media upload answered without an id")
	}
	return string(out.ID), nil
}

// annotateErr prefixes a classified error's message, keeping its class.
func annotateErr(err error, what string) error {
	var e *sdk.Error
	if errors.As(err, &e) {
		cp := *e
		cp.Message = what + ": " + e.Message
		return &cp
	}
	return fmt.Errorf("%s: %w", what, err)
}
