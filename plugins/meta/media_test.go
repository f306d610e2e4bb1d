package meta_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

var jpeg = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 2000)...)

func TestFetchMedia(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	f := sdktest.Connect(t, b.conn).(sdk.MediaFetcher)
	base := strings.TrimSuffix(b.app.APIBaseURL, "/v21.0")
	fetch := func(app sdk.App, u string, max int64) ([]byte, *sdk.MediaContent, error) {
		mc, err := f.FetchMedia(ctx, &sdk.FetchMediaRequest{App: app, Credentials: b.fbCreds(), AccountID: pageID, Platform: "facebook",
			Attachment: sdk.Attachment{Type: "image", URL: u}, MaxBytes: max})
		if err != nil {
			return nil, nil, err
		}
		defer mc.Body.Close()
		data, err := io.ReadAll(mc.Body)
		return data, mc, err
	}

	t.Run("ok, with the type the CDN names", func(t *testing.T) {
		u := base + b.sandbox.AddAttachment(jpeg, "image/jpeg")
		// What a webhook hands over is what FetchMedia downloads.
		res, err := meta.New().HandleWebhook(ctx, signedRequest(sandbox.MessengerAttachment(pageID, psid, "image", u)))
		require.NoError(t, err)
		require.Equal(t, u, res.Events[0].Message.Attachments[0].URL)
		data, mc, err := fetch(b.app, u, 1<<20)
		require.NoError(t, err)
		require.Equal(t, jpeg, data)
		require.Equal(t, "image/jpeg", mc.MimeType)
		require.Equal(t, int64(len(jpeg)), mc.Size)
	})
	t.Run("too large", func(t *testing.T) {
		u := base + b.sandbox.AddAttachment(jpeg, "image/jpeg")
		_, _, err := fetch(b.app, u, 100)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, sdk.CodeTooLarge, err.(*sdk.Error).Code)
	})
	t.Run("an expired URL", func(t *testing.T) {
		b := setup(t)
		f := sdktest.Connect(t, b.conn).(sdk.MediaFetcher)
		u := strings.TrimSuffix(b.app.APIBaseURL, "/v21.0") + b.sandbox.AddAttachment(jpeg, "image/jpeg")
		b.sandbox.ExpireAttachments()
		_, err := f.FetchMedia(ctx, &sdk.FetchMediaRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID,
			Attachment: sdk.Attachment{Type: "image", URL: u}, MaxBytes: 1 << 20})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, "expired", err.(*sdk.Error).Code)
	})
	t.Run("a private host is refused unless the emulator setting allows it", func(t *testing.T) {
		u := base + b.sandbox.AddAttachment(jpeg, "image/jpeg")
		strict := b.app
		strict.Settings = map[string]string{}
		for _, bad := range []string{u, "http://169.254.169.254/latest/meta-data/", "http://localhost:1/x", "file:///etc/passwd"} {
			_, _, err := fetch(strict, bad, 1<<20)
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
			require.Equal(t, sdk.CodePrivateAddress, err.(*sdk.Error).Code, bad)
		}
	})
	t.Run("no URL", func(t *testing.T) {
		_, _, err := fetch(b.app, "", 1<<20)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	})
}

func TestSendAttachmentsChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		platform string
		att      sdk.Attachment
		want     string // the Send API type, or "" when refused
		err      string
	}{
		{"facebook image", "facebook", sdk.Attachment{Type: "image", URL: "https://cdn.example.com/a.png", MimeType: "image/png"}, "image", ""},
		{"facebook video", "facebook", sdk.Attachment{Type: "video", URL: "https://cdn.example.com/a.mp4"}, "video", ""},
		{"facebook audio", "facebook", sdk.Attachment{Type: "audio", URL: "https://cdn.example.com/a.mp3"}, "audio", ""},
		{"facebook document", "facebook", sdk.Attachment{Type: "document", URL: "https://cdn.example.com/a.pdf"}, "file", ""},
		{"kind from the MIME type", "facebook", sdk.Attachment{URL: "https://cdn.example.com/a.pdf", MimeType: "application/pdf"}, "file", ""},
		{"instagram video", "instagram", sdk.Attachment{Type: "video", URL: "https://cdn.example.com/a.mp4", MimeType: "video/mp4"}, "video", ""},
		{"instagram takes no documents", "instagram", sdk.Attachment{Type: "file", URL: "https://cdn.example.com/a.pdf"}, "", "does not take document"},
		{"a type outside the kind's", "facebook", sdk.Attachment{Type: "image", URL: "https://cdn.example.com/a.webp", MimeType: "image/webp"}, "", "not image/webp"},
		{"an unknown kind", "facebook", sdk.Attachment{Type: "location", URL: "https://maps.example.com/x"}, "", "does not take location"},
		{"a private URL", "facebook", sdk.Attachment{Type: "image", URL: "http://127.0.0.1/a.jpg"}, "", "public"},
		{"no URL", "facebook", sdk.Attachment{Type: "image"}, "", "no URL"},
		{"an unknown platform", "tiktok", sdk.Attachment{Type: "image", URL: "https://cdn.example.com/a.png"}, "", "unknown platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.app.Settings = map[string]string{}
			b.sandbox.Seen(pageID, psid, b.now)
			b.sandbox.Seen(igID, igsid, b.now)
			req := b.dm("", false)
			switch tc.platform {
			case "instagram":
				req.Credentials, req.AccountID, req.RecipientID = b.igCreds(), igID, igsid
			case "tiktok":
				req.Credentials.Extra[meta.ExtraPlatform] = tc.platform
			}
			req.Attachments = []sdk.Attachment{tc.att}
			_, err := b.conn.Send(ctx, req)
			if tc.err != "" {
				sdktest.RequireClass(t, sdk.ClassPermanent, err)
				require.Contains(t, err.Error(), tc.err)
				require.Zero(t, b.sandbox.Requests(), "refused before calling Meta")
				return
			}
			require.NoError(t, err)
			sent := b.sandbox.SentMessages()
			require.Len(t, sent, 1)
			require.Equal(t, tc.want, sent[0].AttachmentType)
			require.Equal(t, tc.att.URL, sent[0].AttachmentURL)
		})
	}
}
