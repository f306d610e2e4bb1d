package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/tenant"
	entmedia "github.com/neksio/neksio/ent/media"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// StoreGenerated saves a file the server made for the viewer (an
// analytics export) as a document of the viewer's workspace: served as a
// download, its type given by the server rather than sniffed. Any member,
// analysts included, may get one, so the row is written by the system on
// the viewer's behalf.
func (s *Service) StoreGenerated(ctx context.Context, filename, mimeType, source string, content []byte) (pulid.ID, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return "", err
	}
	id := pulid.New("med")
	key := v.WorkspaceID + "/" + string(id)
	if err := s.Bucket.WriteAll(ctx, key, content, &blob.WriterOptions{ContentType: mimeType}); err != nil {
		return "", apperr.Unavailable(err, "media store unavailable")
	}
	h := sha256.Sum256(content)
	sys := tenant.NewContext(ctx, tenant.System(v.WorkspaceID, source))
	_, err = s.Ent(sys).Media.Create().SetID(id).SetKind(entmedia.KindDocument).SetMimeType(mimeType).
		SetSize(int64(len(content))).
		SetSha256(hex.EncodeToString(h[:])).SetFilename(filepath.Base(filename)).
		SetStorageKey(key).SetSource(source).SetCreatedBy(v.Actor()).Save(sys)
	if err != nil {
		_ = s.Bucket.Delete(context.WithoutCancel(ctx), key)
		return "", fmt.Errorf("media: recording %s: %w", source, err)
	}
	return id, nil
}

// URLFor is a signed URL of id valid for ttl, and its expiry.
func (s *Service) URLFor(id pulid.ID, ttl time.Duration) (string, time.Time) {
	expAt := s.now().Add(ttl).Truncate(time.Second)
	exp := expAt.Unix()
	path := "/media/" + url.PathEscape(string(id)) + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + s.sign(string(id), exp)
	return strings.TrimSuffix(s.PublicURL, "/") + path, expAt
}
