package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// Media in the inbox: a reply's files go from the media store to the
// platform at signed URLs, checked against the platform's limits first; a
// customer's files are fetched from the platform into the media store by
// media.fetch jobs and open at signed Neksio URLs.

func gifBytes(t testing.TB) []byte {
	img := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.White, color.Black})
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, img, nil))
	return b.Bytes()
}

// uploaded uploads a file and returns its media id.
func (e *env) uploaded(t testing.TB, key, name string, content []byte) string {
	t.Helper()
	r := e.uploadMedia(t, key, name, content)
	require.Empty(t, r.Errors, "%+v", r.Errors)
	return dig(r.Data, "uploadMedia", "id").(string)
}

// fetch GETs a URL as a browser would and returns the status, the
// content type and the body.
func fetch(t testing.TB, raw string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(raw)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

const replyWithFiles = `mutation($in: SendReplyInput!) { sendReply(input: $in) { id type text attachments { type mimeType url } } }`

func (e *env) replyFiles(t testing.TB, key, conv, text string, files ...string) gqlResponse {
	t.Helper()
	in := map[string]any{"conversationId": conv, "attachments": files}
	if text != "" {
		in["text"] = text
	}
	return e.gqlAs(t, key, replyWithFiles, map[string]any{"in": in})
}

// attachmentsOf lists the attachments of the conversation's messages in
// the given direction, oldest first.
func (e *env) attachmentsOf(t testing.TB, conv, direction string) []map[string]any {
	t.Helper()
	data := e.gql(t, `query($id: ID!, $d: MessageDirection!) { node(id: $id) { ... on Conversation {
		messages(first: 20, where: {direction: $d}, orderBy: {field: SENT_AT, direction: ASC}) { edges { node {
			attachments { type url mimeType name size status error media { id mimeType size } } } } } } } }`,
		map[string]any{"id": conv, "d": direction})
	var out []map[string]any
	for _, m := range dig(data, "node", "messages", "edges").([]any) {
		list, _ := dig(m, "node", "attachments").([]any)
		for _, a := range list {
			out = append(out, a.(map[string]any))
		}
	}
	return out
}

// waitAttachments waits until no attachment of the conversation's inbound
// messages is still being fetched.
func (e *env) waitAttachments(t testing.TB, conv string) []map[string]any {
	t.Helper()
	var atts []map[string]any
	require.Eventually(t, func() bool {
		atts = e.attachmentsOf(t, conv, "INBOUND")
		for _, a := range atts {
			if a["status"] == "PENDING" {
				return false
			}
		}
		return len(atts) > 0
	}, 60*time.Second, 50*time.Millisecond)
	return atts
}

func (e *env) mediaRows(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, e.App.Store.DB.QueryRow(`SELECT count(*) FROM media`).Scan(&n))
	return n
}

// An image out and in on WhatsApp: the reply carries the uploaded image
// at a signed URL that serves its bytes; the customer's image, named by a
// media id only, is downloaded with the channel's token and opens at a
// signed Neksio URL. A failed download is retried. Files the platform
// would refuse are refused before anything is stored.
func TestWhatsAppImageOutAndIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d)
		e.whatsappText(t, "16505550002", "Where are you?")
		conv := e.conversationOf(t, "16505550002")
		img := pngBytes(t)
		id := e.uploaded(t, e.Key, "map.png", img)

		r := e.replyFiles(t, e.Key, conv, "Here is the map", id)
		require.Empty(t, r.Errors, "%+v", r.Errors)
		require.Equal(t, "image", dig(r.Data, "sendReply", "attachments", 0, "type"))
		e.waitJobs(t)
		sent := e.WhatsApp.Sent()
		require.Len(t, sent, 1)
		require.Equal(t, "image", sent[0].Media.Type)
		require.Equal(t, "Here is the map", sent[0].Media.Caption)
		require.True(t, strings.HasPrefix(sent[0].Media.Link, e.URL+"/media/"+id+"?"), sent[0].Media.Link)
		status, h, body := fetch(t, sent[0].Media.Link)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "image/png", h.Get("Content-Type"))
		require.Equal(t, img, body, "the link the platform fetches serves the file")

		// A document goes as one, named.
		pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
		r = e.replyFiles(t, e.Key, conv, "", e.uploaded(t, e.Key, "menu.pdf", pdf))
		require.Empty(t, r.Errors, "%+v", r.Errors)
		require.Equal(t, "document", dig(r.Data, "sendReply", "attachments", 0, "type"))
		e.waitJobs(t)
		sent = e.WhatsApp.Sent()
		require.Len(t, sent, 2)
		require.Equal(t, "document", sent[1].Media.Type)
		require.Equal(t, "menu.pdf", sent[1].Media.Filename)

		// Refused before anything is stored or sent: a type WhatsApp does
		// not take as an image, a file over its size, two files, another
		// workspace's file, and a comment thread.
		outbound := e.countOutbound(t)
		gifID := e.uploaded(t, e.Key, "a.gif", gifBytes(t))
		r = e.replyFiles(t, e.Key, conv, "", gifID)
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "whatsapp takes image as image/jpeg, image/png, not image/gif")
		bigID := e.uploaded(t, e.Key, "big.png", append(pngBytes(t), make([]byte, 6<<20)...))
		r = e.replyFiles(t, e.Key, conv, "", bigID)
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "at most 5 MB")
		r = e.replyFiles(t, e.Key, conv, "", id, e.uploaded(t, e.Key, "b.png", pngBytes(t)))
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "at most 1 attachment")
		_, otherKey := e.newWorkspace(t, "Other")
		otherID := e.uploaded(t, otherKey, "c.png", pngBytes(t))
		require.Equal(t, "NOT_FOUND", e.replyFiles(t, e.Key, conv, "", otherID).Code())
		require.Equal(t, outbound, e.countOutbound(t))
		require.Len(t, e.WhatsApp.Sent(), 2)

		// In: the first download fails (WhatsApp down), the retry stores it.
		mediaID := e.WhatsApp.AddMedia(testWAPhoneID, img, "image/png")
		e.WhatsApp.FailNext(1, http.StatusInternalServerError, 1, "temporarily unavailable")
		in := wasandbox.Inbound{PhoneNumberID: testWAPhoneID, From: "16505550002", Name: "Ann", Type: "image",
			Object: wasandbox.MediaObject(mediaID, "image/png", "my street", img)}
		require.Equal(t, http.StatusOK, e.whatsappWebhook(t, in.Body()))
		atts := e.waitAttachments(t, conv)
		require.Len(t, atts, 1)
		a := atts[0]
		require.Equal(t, "STORED", a["status"], "%v", a)
		require.Nil(t, a["error"])
		require.Equal(t, "image/png", a["mimeType"])
		require.EqualValues(t, len(img), a["size"])
		require.True(t, strings.HasPrefix(a["url"].(string), e.URL+"/media/med_"), a["url"])
		status, h, body = fetch(t, a["url"].(string))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "image/png", h.Get("Content-Type"))
		require.Equal(t, "sandbox", h.Get("Content-Security-Policy"))
		require.Equal(t, img, body)
		var attempt int
		require.NoError(t, e.App.Store.DB.QueryRow(`SELECT attempt FROM river_job WHERE kind = 'media.fetch'`).Scan(&attempt))
		require.Equal(t, 2, attempt, "fetched on the retry")
	})
}

// WhatsApp's upload mode: the connector reads the reply's file from its
// signed URL and uploads it to the platform.
func TestWhatsAppImageOutByUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite, withEnviron("NEKSIO_WHATSAPP_UPLOAD_MEDIA=true"))
	e.whatsappText(t, "16505550003", "Menu?")
	img := pngBytes(t)
	r := e.replyFiles(t, e.Key, e.conversationOf(t, "16505550003"), "", e.uploaded(t, e.Key, "menu.png", img))
	require.Empty(t, r.Errors)
	require.Equal(t, "image", dig(r.Data, "sendReply", "type"), "a file without text is a message of its kind")
	e.waitJobs(t)
	sent := e.WhatsApp.Sent()
	require.Len(t, sent, 1)
	require.NotEmpty(t, sent[0].Media.ID)
	stored, ok := e.WhatsApp.Media(sent[0].Media.ID)
	require.True(t, ok)
	require.Equal(t, img, stored.Data)
}

// An image out and in on Messenger: Meta takes the reply's file by URL;
// the customer's arrives as a CDN URL that expires, and is kept in the
// media store before it does.
func TestMessengerImageOutAndIn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		e.connectMeta(t)
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerText(testPageID, "psid-5", "Photo of the cake?")))
		conv := e.conversationOf(t, "psid-5")
		img := pngBytes(t)
		id := e.uploaded(t, e.Key, "cake.png", img)
		r := e.replyFiles(t, e.Key, conv, "Here it is", id)
		require.Empty(t, r.Errors, "%+v", r.Errors)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sent, err := e.Meta.WaitSent(ctx, 2)
		require.NoError(t, err)
		var att metasandbox.Sent
		for _, s := range sent {
			if s.AttachmentType != "" {
				att = s
			}
		}
		require.Equal(t, "image", att.AttachmentType)
		status, _, body := fetch(t, att.AttachmentURL)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, img, body)

		// Instagram takes no documents.
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.InstagramDM(testIGID, "igsid-5", "menu?")))
		pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
		r = e.replyFiles(t, e.Key, e.conversationOf(t, "igsid-5"), "", e.uploaded(t, e.Key, "menu.pdf", pdf))
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "instagram takes image, video, audio attachments, not document")

		// In: the customer's photo, then a file whose CDN link expired.
		cdn := e.Meta.AddAttachment(img, "image/png")
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerAttachment(testPageID, "psid-5", "image", e.MetaURL+cdn)))
		atts := e.waitAttachments(t, conv)
		require.Equal(t, "STORED", atts[0]["status"], "%v", atts[0])
		status, h, body := fetch(t, atts[0]["url"].(string))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "image/png", h.Get("Content-Type"))
		require.Equal(t, img, body)

		late := e.Meta.AddAttachment(img, "image/png")
		e.Meta.ExpireAttachments()
		before := e.mediaRows(t)
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerAttachment(testPageID, "psid-5", "image", e.MetaURL+late)))
		atts = e.waitAttachments(t, conv)
		require.Len(t, atts, 2)
		require.Equal(t, "FAILED", atts[1]["status"])
		require.Contains(t, atts[1]["error"], "expired")
		require.Equal(t, e.MetaURL+late, atts[1]["url"], "the platform's link is still shown")
		require.Equal(t, before, e.mediaRows(t))
	})
}

// What a platform hands out is fetched only when it is safe and small
// enough: a link to a private address, a file over the cap and content
// that is not the media it claims are each refused, visible on the
// attachment, and nothing is stored. A reply's file is refused when the
// platform could not fetch it from this server.
func TestInboundMediaRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withEnviron("NEKSIO_META_ALLOW_PRIVATE_MEDIA_URLS=false"),
			withConfig(func(c *config.Config) { c.Media.FetchMaxBytes = 2048 }))
		e.connectMeta(t)
		img := pngBytes(t)

		cdn := e.Meta.AddAttachment(img, "image/png")
		require.Equal(t, http.StatusOK, e.metaWebhook(t, metasandbox.MessengerAttachment(testPageID, "psid-6", "image", e.MetaURL+cdn)))
		atts := e.waitAttachments(t, e.conversationOf(t, "psid-6"))
		require.Equal(t, "FAILED", atts[0]["status"])
		require.Contains(t, atts[0]["error"], "private_address")

		large := append(append([]byte{}, img...), make([]byte, 4096)...)
		e.whatsappText(t, "16505550004", "hi")
		for _, f := range []struct {
			data []byte
			mime string
		}{{large, "image/png"}, {[]byte("<html><script>alert(1)</script></html>"), "image/png"}} {
			id := e.WhatsApp.AddMedia(testWAPhoneID, f.data, f.mime)
			in := wasandbox.Inbound{PhoneNumberID: testWAPhoneID, From: "16505550004", Type: "image",
				Object: wasandbox.MediaObject(id, f.mime, "", f.data)}
			require.Equal(t, http.StatusOK, e.whatsappWebhook(t, in.Body()))
		}
		atts = e.waitAttachments(t, e.conversationOf(t, "16505550004"))
		require.Len(t, atts, 2)
		require.Equal(t, "FAILED", atts[0]["status"])
		require.Contains(t, atts[0]["error"], "too_large")
		require.Equal(t, "FAILED", atts[1]["status"])
		require.Contains(t, atts[1]["error"], "unsupported file type text/html")
		require.Nil(t, atts[1]["url"], "nothing to open")
		require.Zero(t, e.mediaRows(t), "nothing stored")

		// Meta could not fetch a reply's file from 127.0.0.1.
		r := e.replyFiles(t, e.Key, e.conversationOf(t, "psid-6"), "", e.uploaded(t, e.Key, "a.png", img))
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Contains(t, r.Errors[0].Message, "not a public address")
		require.Zero(t, e.countOutbound(t))
	})
}
