// Package media is Neksio's media store: files uploaded for posts and
// reply attachments, and customers' attachments fetched from the platforms
// (core/inbox), kept in a bucket — a directory
// under the data dir by default, an S3-compatible bucket in production
// (gocloud.dev/blob) — and served to platforms at signed, expiring URLs.
//
// A platform fetches a post's media by URL, so the URL must be public
// (NEKSIO_PUBLIC_URL) yet unguessable: /media/{id}?exp=…&sig=… where sig is
// an HMAC-SHA256, under a key derived from the master key, of the id and
// the expiry. A bad signature answers 403, an expired one 410; the id
// alone opens nothing.
package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gabriel-vasile/mimetype"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entmedia "github.com/neksio/neksio/ent/media"
	"github.com/neksio/neksio/ent/schema/pulid"

	_ "gocloud.dev/blob/s3blob" // s3:// bucket URLs
)

// Defaults.
const (
	// DefaultURLTTL is how long a signed URL works: long enough for a
	// platform to fetch the file of a post published now (Instagram and
	// TikTok fetch within minutes; a retried target gets a fresh URL).
	DefaultURLTTL = 24 * time.Hour
	// DefaultMaxBytes bounds one upload. Per-platform limits are lower and
	// are checked when a post is validated.
	DefaultMaxBytes int64 = 512 << 20
)

// Service stores and serves media.
type Service struct {
	Ent    func(ctx context.Context) *ent.Client
	Bucket *blob.Bucket
	// SignKey signs URLs (derived from the master key).
	SignKey []byte
	// PublicURL is NEKSIO_PUBLIC_URL, e.g. https://neksio.example.com.
	PublicURL string
	// URLTTL is how long signed URLs last (DefaultURLTTL when zero).
	URLTTL time.Duration
	// MaxBytes bounds one upload (DefaultMaxBytes when zero).
	MaxBytes int64
	Log      *slog.Logger
	Now      func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) ttl() time.Duration {
	if s.URLTTL > 0 {
		return s.URLTTL
	}
	return DefaultURLTTL
}

// OpenBucket opens the bucket at rawURL (e.g. s3://bucket?region=…&endpoint=…),
// or a directory bucket at <dataDir>/media when rawURL is empty.
func OpenBucket(ctx context.Context, rawURL, dataDir string) (*blob.Bucket, error) {
	if rawURL == "" {
		dir := filepath.Join(dataDir, "media")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
		// No .attrs side files' metadata is needed beyond the content type,
		// which fileblob keeps in them.
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
		if err != nil {
			return nil, fmt.Errorf("media: opening %s: %w", dir, err)
		}
		return b, nil
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("media: opening bucket: %w", err)
	}
	return b, nil
}

// Upload is one file to store.
type Upload struct {
	Filename string
	Content  io.Reader
	// Source: "upload" (uploadMedia) or "inbound" (a customer's
	// attachment, fetched from the platform).
	Source string
	// MaxBytes, when set and lower, replaces the service's bound.
	MaxBytes int64
}

// documentTypes are the documents kept (PDF and office files): what
// WhatsApp and Messenger take as files and people send.
var documentTypes = map[string]bool{
	"application/pdf":    true,
	"application/msword": true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": true,
	"application/vnd.ms-excel": true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.ms-powerpoint":                                             true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/vnd.oasis.opendocument.text":                                   true,
	"application/vnd.oasis.opendocument.spreadsheet":                            true,
	"application/vnd.oasis.opendocument.presentation":                           true,
}

// Kind of a media type: image, video, audio or document, "" for none.
func Kind(mimeType string) entmedia.Kind {
	base, _, _ := strings.Cut(mimeType, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	switch {
	case base == "image/svg+xml":
		// An SVG is a document that runs scripts when a browser opens it
		// from this server's origin.
		return ""
	case strings.HasPrefix(base, "image/"):
		return entmedia.KindImage
	case strings.HasPrefix(base, "video/"):
		return entmedia.KindVideo
	case strings.HasPrefix(base, "audio/"):
		return entmedia.KindAudio
	case documentTypes[base]:
		return entmedia.KindDocument
	}
	return ""
}

// sniffBytes is how much of a file mimetype looks at.
const sniffBytes = 3072

// Store saves an upload of the viewer's workspace: the type is sniffed
// from the content (never taken from the client), the bytes are hashed
// and written to the bucket, then the row is created. Uploads accept
// images and videos; what a platform takes is checked when a post is
// validated.
func (s *Service) Store(ctx context.Context, up Upload) (*ent.Media, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	maxBytes := s.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if up.MaxBytes > 0 && up.MaxBytes < maxBytes {
		maxBytes = up.MaxBytes
	}
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(up.Content, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("media: reading upload: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return nil, apperr.Invalid("file", "the file is empty")
	}
	mt := mimetype.Detect(head)
	mimeType, _, _ := strings.Cut(mt.String(), ";")
	kind := Kind(mimeType)
	if kind == "" {
		return nil, apperr.Invalid("file", "unsupported file type %s: upload an image, a video, an audio file or a document (PDF or office file)", mimeType)
	}
	id := pulid.New("med")
	key := v.WorkspaceID + "/" + string(id)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.Bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: mimeType})
	if err != nil {
		return nil, apperr.Unavailable(err, "media store unavailable")
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(io.MultiReader(bytes.NewReader(head), up.Content), maxBytes+1))
	if err == nil && size > maxBytes {
		err = apperr.Invalid("file", "the file is larger than %d bytes", maxBytes)
	}
	if err != nil {
		cancel() // aborts the write: nothing is left in the bucket
		_ = w.Close()
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, fmt.Errorf("media: storing upload: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, apperr.Unavailable(err, "media store unavailable")
	}
	src := up.Source
	if src == "" {
		src = "upload"
	}
	m, err := s.record(ctx, v, up, id, kind, mimeType, size, hex.EncodeToString(h.Sum(nil)), key, src)
	if err != nil {
		_ = s.Bucket.Delete(context.WithoutCancel(ctx), key)
		return nil, fmt.Errorf("media: recording upload: %w", err)
	}
	return m, nil
}

// record creates the media row; a person's upload is audited in the same
// transaction (the file's name stays out of the entry).
func (s *Service) record(ctx context.Context, v *tenant.Viewer, up Upload, id pulid.ID, kind entmedia.Kind, mimeType string, size int64,
	sum, key, src string) (*ent.Media, error) {
	create := func(c *ent.Client) (*ent.Media, error) {
		return c.Media.Create().SetID(id).SetKind(kind).SetMimeType(mimeType).SetSize(size).
			SetSha256(sum).SetFilename(filepath.Base(up.Filename)).
			SetStorageKey(key).SetSource(src).SetCreatedBy(v.Actor()).Save(ctx)
	}
	if src != "upload" || v.Kind != tenant.KindMember {
		return create(s.Ent(ctx))
	}
	tx, err := s.Ent(ctx).Tx(ctx)
	if err != nil {
		return nil, err
	}
	m, err := create(tx.Client())
	if err == nil {
		err = audit.Record(ctx, tx.Client(), "media.upload", "Media", string(id),
			map[string]string{"kind": string(kind), "mimeType": mimeType, "size": strconv.FormatInt(size, 10)})
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return m, tx.Commit()
}

// sign is the signature of a media id and expiry.
func (s *Service) sign(id string, exp int64) string {
	return secret.SignLink(s.SignKey, "", id, exp)
}

// URL is a signed URL of m valid for the configured TTL: absolute under
// PublicURL, or only the path when no public URL is configured.
func (s *Service) URL(id pulid.ID) string {
	exp := s.now().Add(s.ttl()).Unix()
	path := "/media/" + url.PathEscape(string(id)) + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + s.sign(string(id), exp)
	return strings.TrimSuffix(s.PublicURL, "/") + path
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("media: bad signature")
	ErrExpired      = errors.New("media: link expired")
)

// Verify checks a signed URL's parameters.
func (s *Service) Verify(id, exp, sig string) error {
	switch err := secret.VerifyLink(s.SignKey, "", id, exp, sig, s.now()); {
	case errors.Is(err, secret.ErrLinkExpired):
		return ErrExpired
	case err != nil:
		return ErrBadSignature
	}
	return nil
}

// PublicHost reports whether the public URL is one platforms can reach: an
// http(s) URL whose host is not loopback, private or a local name.
func (s *Service) PublicHost() bool {
	return s.PublicURL != "" && CheckPublicURL(s.PublicURL) == nil
}

// CheckPublicURL refuses URLs a platform's servers cannot fetch: not
// http(s), or a loopback, private, link-local or local-name host. It
// looks at the URL only (no DNS lookup).
func CheckPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") ||
		strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return fmt.Errorf("%s is a local host name", host)
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast()) {
		return fmt.Errorf("%s is not a public address", host)
	}
	return nil
}

// ServeHTTP serves GET /media/{id}?exp=…&sig=…: the file with its content
// type, for whoever holds a valid link (platforms fetching a post's
// media). The signature names the file, so no viewer is needed; a bad one
// is 403, an expired one 410.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	switch err := s.Verify(id, q.Get("exp"), q.Get("sig")); {
	case errors.Is(err, ErrExpired):
		http.Error(w, "link expired", http.StatusGone)
		return
	case err != nil:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ctx := tenant.NewContext(r.Context(), tenant.PlatformViewer("media: signed link"))
	m, err := s.Ent(ctx).Media.Get(ctx, pulid.ID(id))
	if ent.IsNotFound(err) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	rd, err := s.Bucket.NewReader(ctx, m.StorageKey, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		if s.Log != nil {
			s.Log.Error("media: reading", "id", id, "err", err)
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	defer rd.Close()
	w.Header().Set("Content-Type", m.MimeType)
	w.Header().Set("Content-Length", strconv.FormatInt(m.Size, 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Files come from customers too: nothing served here runs as a page of
	// this origin, and documents are downloaded, not opened.
	w.Header().Set("Content-Security-Policy", "sandbox")
	if m.Kind == entmedia.KindDocument {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.Filename}))
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, rd)
}
