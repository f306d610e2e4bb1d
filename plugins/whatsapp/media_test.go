package whatsapp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/whatsapp"
	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

var jpeg = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 3000)...)

func (b *testBundle) mediaApp() sdk.App {
	app := b.app
	app.Settings = map[string]string{whatsapp.SettingAllowPrivateMedia: "true"}
	return app
}

func TestFetchMedia(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fetch := func(b *testBundle, app sdk.App, tok, id string, max int64) ([]byte, *sdk.MediaContent, error) {
		f := sdktest.Connect(t, b.conn).(sdk.MediaFetcher)
		mc, err := f.FetchMedia(ctx, &sdk.FetchMediaRequest{App: app, Credentials: sdk.Credentials{AccessToken: tok}, AccountID: phoneID,
			Platform: "whatsapp", Attachment: sdk.Attachment{Type: "image", ExternalID: id}, MaxBytes: max})
		if err != nil {
			return nil, nil, err
		}
		defer mc.Body.Close()
		data, err := io.ReadAll(mc.Body)
		return data, mc, err
	}

	t.Run("ok: the webhook's media id, downloaded with the channel's token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.emu.AddMedia(phoneID, jpeg, "image/jpeg")
		body := sandbox.Inbound{PhoneNumberID: phoneID, From: customer, Type: "image", Object: sandbox.MediaObject(id, "image/jpeg", "look", jpeg)}.Body()
		res, err := b.conn.HandleWebhook(ctx, sdktest.HubSignedWebhook(b.app, body))
		require.NoError(t, err)
		att := res.Events[0].Message.Attachments[0]
		require.Equal(t, id, att.ExternalID)

		data, mc, err := fetch(b, b.mediaApp(), token, att.ExternalID, 1<<20)
		require.NoError(t, err)
		require.Equal(t, jpeg, data)
		require.Equal(t, "image/jpeg", mc.MimeType)
		require.Equal(t, int64(len(jpeg)), mc.Size)
	})
	t.Run("too large: refused from the declared size", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.emu.AddMedia(phoneID, jpeg, "image/jpeg")
		_, _, err := fetch(b, b.mediaApp(), token, id, 100)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, sdk.CodeTooLarge, err.(*sdk.Error).Code)
	})
	t.Run("an expired URL is looked up again once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.emu.AddMedia(phoneID, jpeg, "image/jpeg")
		b.emu.ExpireNextMediaURLs(1)
		data, _, err := fetch(b, b.mediaApp(), token, id, 1<<20)
		require.NoError(t, err)
		require.Equal(t, jpeg, data)

		b.emu.ExpireNextMediaURLs(2)
		_, _, err = fetch(b, b.mediaApp(), token, id, 1<<20)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, "expired", err.(*sdk.Error).Code)
	})
	t.Run("a private host is refused without the emulator setting", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.emu.AddMedia(phoneID, jpeg, "image/jpeg")
		_, _, err := fetch(b, b.app, token, id, 1<<20)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Equal(t, sdk.CodePrivateAddress, err.(*sdk.Error).Code)
	})
	t.Run("a wrong token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.emu.AddMedia(phoneID, jpeg, "image/jpeg")
		_, _, err := fetch(b, b.mediaApp(), "not-a-token", id, 1<<20)
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
		// Another number's token cannot read this number's media.
		_, _, err = fetch(b, b.mediaApp(), otherToken, id, 1<<20)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "does not exist")
	})
	t.Run("an unknown media id", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, _, err := fetch(b, b.mediaApp(), token, "", 1<<20)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	})
}

// A download whose bytes do not match the declared SHA-256 fails at its
// end instead of being stored.
func TestFetchMediaChecksSHA256(t *testing.T) {
	t.Parallel()
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/777") {
			_, _ = io.WriteString(w, `{"url":"`+srvURL+`/file","mime_type":"image/jpeg","sha256":"00ff","file_size":4,"id":"777"}`)
			return
		}
		_, _ = w.Write([]byte("abcd"))
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	c := sdktest.Connect(t, whatsapp.New(whatsapp.WithHTTPClient(srv.Client())))
	mc, err := c.(sdk.MediaFetcher).FetchMedia(context.Background(), &sdk.FetchMediaRequest{
		App:         sdk.App{APIBaseURL: srv.URL, Settings: map[string]string{whatsapp.SettingAllowPrivateMedia: "true"}},
		Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID, Attachment: sdk.Attachment{ExternalID: "777"}, MaxBytes: 1 << 20})
	require.NoError(t, err)
	_, err = io.ReadAll(mc.Body)
	_ = mc.Body.Close()
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "SHA-256")
}

func TestSendMediaChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		att  sdk.Attachment
		text string
		want string // the message type sent, or "" when refused
		err  string
	}{
		{"image by link", sdk.Attachment{Type: "image", URL: "https://cdn.example.com/a.jpg", MimeType: "image/jpeg"}, "caption", "image", ""},
		{"video by link", sdk.Attachment{Type: "video", URL: "https://cdn.example.com/a.mp4", MimeType: "video/mp4"}, "", "video", ""},
		{"audio by link", sdk.Attachment{Type: "audio", URL: "https://cdn.example.com/a.ogg", MimeType: "audio/ogg"}, "", "audio", ""},
		{"document by link", sdk.Attachment{Type: "file", URL: "https://cdn.example.com/a.pdf", MimeType: "application/pdf", Name: "menu.pdf"}, "our menu", "document", ""},
		{"a gif is not a WhatsApp image", sdk.Attachment{Type: "image", URL: "https://cdn.example.com/a.gif", MimeType: "image/gif"}, "", "", "image/jpeg, image/png"},
		{"an unknown kind", sdk.Attachment{Type: "hologram", URL: "https://cdn.example.com/a"}, "", "", "cannot be sent"},
		{"a private link", sdk.Attachment{Type: "image", URL: "http://192.168.1.10/a.jpg"}, "", "", "public URL"},
		{"a loopback link", sdk.Attachment{Type: "document", URL: "http://localhost:8080/a.pdf"}, "", "", "public URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			res, err := b.conn.Send(ctx, &sdk.SendRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID,
				Kind: sdk.SendDirect, RecipientID: customer, Text: tc.text, Attachments: []sdk.Attachment{tc.att}})
			if tc.err != "" {
				sdktest.RequireClass(t, sdk.ClassPermanent, err)
				require.Contains(t, err.Error(), tc.err)
				require.Empty(t, b.emu.Sent(), "refused before calling the platform")
				return
			}
			require.NoError(t, err)
			sent := b.emu.Sent()
			require.Len(t, sent, 1)
			require.Equal(t, res.ExternalID, sent[0].ID)
			require.Equal(t, tc.want, sent[0].Type)
			require.Equal(t, tc.att.URL, sent[0].Media.Link)
			require.Equal(t, tc.text, sent[0].Media.Caption)
			require.Equal(t, tc.att.Name, sent[0].Media.Filename)
		})
	}
}

// With upload_media the file is fetched from its URL (the host's media
// store, which may be private), uploaded, and sent by media id.
func TestSendMediaByUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	big := append([]byte("\xff\xd8\xff"), make([]byte, 5<<20)...)
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(jpeg)
		case "/big.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			w.(http.Flusher).Flush() // no length: the cap is found while streaming
			_, _ = io.Copy(w, bytes.NewReader(big))
		case "/a.gif":
			w.Header().Set("Content-Type", "image/gif")
			_, _ = w.Write([]byte("GIF89a"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(store.Close)
	send := func(b *testBundle, a sdk.Attachment) (*sdk.SendResult, error) {
		app := b.app
		app.Settings = map[string]string{whatsapp.SettingUploadMedia: "true"}
		return b.conn.Send(ctx, &sdk.SendRequest{App: app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID,
			Kind: sdk.SendDirect, RecipientID: customer, Text: "look", Attachments: []sdk.Attachment{a}})
	}

	b := setup(t)
	_, err := send(b, sdk.Attachment{Type: "image", URL: store.URL + "/a.jpg"})
	require.NoError(t, err)
	sent := b.emu.Sent()
	require.Len(t, sent, 1)
	require.Empty(t, sent[0].Media.Link)
	m, ok := b.emu.Media(sent[0].Media.ID)
	require.True(t, ok, "sent by the id the upload answered")
	require.True(t, m.Uploaded)
	require.Equal(t, jpeg, m.Data)
	require.Equal(t, "image/jpeg", m.MimeType)
	require.Equal(t, phoneID, m.PhoneNumberID)

	_, err = send(b, sdk.Attachment{Type: "image", URL: store.URL + "/big.jpg"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "larger than 5242880")
	_, err = send(b, sdk.Attachment{Type: "image", URL: store.URL + "/a.gif"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "not image/gif")
	_, err = send(b, sdk.Attachment{Type: "image", URL: store.URL + "/gone.jpg"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Len(t, b.emu.Sent(), 1, "nothing sent for the refused files")
}
