package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	entmedia "github.com/neksio/neksio/ent/media"
)

func pngFile(t *testing.T) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 2, 2))))
	return b.Bytes()
}

func TestStoreAndServe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		bucket, err := media.OpenBucket(ctx, "", t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { bucket.Close() })
		svc := &media.Service{Ent: func(context.Context) *ent.Client { return s.Ent }, Bucket: bucket,
			SignKey: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://neksio.example.com", MaxBytes: 4096}
		ws, err := workspace.Create(ctx, s, "cafe")
		require.NoError(t, err)
		member := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key_1", ""))

		content := pngFile(t)
		m, err := svc.Store(member, media.Upload{Filename: "../../photo.jpg", Content: bytes.NewReader(content)})
		require.NoError(t, err)
		require.Equal(t, "image/png", m.MimeType, "the type comes from the content, not the name")
		require.EqualValues(t, len(content), m.Size)
		sum := sha256.Sum256(content)
		require.Equal(t, hex.EncodeToString(sum[:]), m.Sha256)
		require.Equal(t, "photo.jpg", m.Filename)
		require.Equal(t, "apikey:key_1", m.CreatedBy)

		_, err = svc.Store(member, media.Upload{Filename: "a.png", Content: strings.NewReader("not an image at all")})
		var ae *apperr.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, apperr.CodeBadUserInput, ae.Code)
		big := append(append([]byte{}, content...), make([]byte, 5000)...)
		_, err = svc.Store(member, media.Upload{Filename: "big.png", Content: bytes.NewReader(big)})
		require.ErrorAs(t, err, &ae)
		require.Equal(t, "file", ae.Field)
		n := 0
		it := bucket.List(nil)
		for {
			if _, err := it.Next(ctx); err != nil {
				break
			}
			n++
		}
		require.Equal(t, 1, n, "refused uploads leave nothing in the bucket")
		_, err = svc.Store(tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAnalyst, "key_2", "")),
			media.Upload{Content: bytes.NewReader(content)})
		require.ErrorIs(t, err, tenant.ErrForbidden)

		mux := http.NewServeMux()
		mux.Handle("GET /media/{id}", svc)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		signed := svc.URL(m.ID)
		require.True(t, strings.HasPrefix(signed, "https://neksio.example.com/media/"+string(m.ID)+"?"))
		u, _ := url.Parse(signed)
		get := func(path string) (int, []byte, string) {
			resp, err := http.Get(srv.URL + path)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b, resp.Header.Get("Content-Type")
		}
		code, body, typ := get(u.RequestURI())
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, content, body)
		require.Equal(t, "image/png", typ)
		code, _, _ = get(strings.Replace(u.RequestURI(), string(m.ID), "med_01J00000000000000000000000", 1))
		require.Equal(t, http.StatusForbidden, code, "a signature opens its own file only")

		svc.Now = func() time.Time { return time.Now().Add(-25 * time.Hour) }
		old, _ := url.Parse(svc.URL(m.ID))
		svc.Now = nil
		code, _, _ = get(old.RequestURI())
		require.Equal(t, http.StatusGone, code)
	})
}

func TestCheckPublicURL(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://cdn.example.com/a.jpg": true,
		"http://8.8.8.8/a.jpg":          true,
		"ftp://cdn.example.com/a.jpg":   false,
		"http://localhost/a.jpg":        false,
		"http://127.0.0.1:8080/a.jpg":   false,
		"http://10.0.0.5/a.jpg":         false,
		"http://192.168.1.2/a.jpg":      false,
		"http://[::1]/a.jpg":            false,
		"http://169.254.169.254/":       false,
		"http://intranet/a.jpg":         false,
		"http://printer.local/a.jpg":    false,
	} {
		require.Equal(t, ok, media.CheckPublicURL(raw) == nil, raw)
	}
}

// Replies carry audio and documents too; an SVG is refused (it would run
// scripts from this origin), nothing is served as a page of this origin,
// and documents download rather than open.
func TestStoreKindsAndServingHeaders(t *testing.T) {
	t.Parallel()
	require.Equal(t, entmedia.KindDocument, media.Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
	require.Equal(t, entmedia.KindAudio, media.Kind("audio/ogg"))
	require.Equal(t, entmedia.Kind(""), media.Kind("image/svg+xml"))
	require.Equal(t, entmedia.Kind(""), media.Kind("text/html"))
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		ctx := context.Background()
		bucket, err := media.OpenBucket(ctx, "", t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { bucket.Close() })
		svc := &media.Service{Ent: func(context.Context) *ent.Client { return s.Ent }, Bucket: bucket,
			SignKey: []byte("0123456789abcdef0123456789abcdef")}
		ws, err := workspace.Create(ctx, s, "cafe")
		require.NoError(t, err)
		member := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key_1", ""))

		svg := `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
		_, err = svc.Store(member, media.Upload{Filename: "x.svg", Content: strings.NewReader(svg)})
		var ae *apperr.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, apperr.CodeBadUserInput, ae.Code)

		pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
		m, err := svc.Store(member, media.Upload{Filename: "menu.pdf", Content: bytes.NewReader(pdf)})
		require.NoError(t, err)
		require.Equal(t, entmedia.KindDocument, m.Kind)
		// A lower bound for one upload (a customer's file) is applied.
		_, err = svc.Store(member, media.Upload{Filename: "big.pdf", Content: bytes.NewReader(append(pdf, make([]byte, 100)...)), MaxBytes: 50})
		require.ErrorAs(t, err, &ae)

		mux := http.NewServeMux()
		mux.Handle("GET /media/{id}", svc)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		resp, err := http.Get(srv.URL + svc.URL(m.ID))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "sandbox", resp.Header.Get("Content-Security-Policy"))
		require.Equal(t, `attachment; filename=menu.pdf`, resp.Header.Get("Content-Disposition"))
	})
}
