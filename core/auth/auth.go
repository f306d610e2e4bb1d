// Package auth issues and checks API keys, and hashes users' passwords.
//
// An API key is 32 random bytes, base64url-encoded behind the "nks_"
// marker. It is shown once; the database keeps its SHA-256 (a fast hash is
// right for 256 random bits: there is nothing to brute-force) and a visible
// prefix so people can tell keys apart. Passwords, which are guessable,
// use argon2id.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/apikey"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/schema/pulid"
)

const (
	keyMarker = "nks_"
	// prefixLen characters of the key are stored in the clear.
	prefixLen = len(keyMarker) + 8
)

// ErrInvalidKey is returned for a key that is malformed, unknown, revoked
// or expired; callers must not tell these apart to the client. It is
// UNAUTHENTICATED (apperr.CodeOf).
var ErrInvalidKey error = apperr.NewSentinel(apperr.CodeUnauthenticated, "invalid API key")

// NewKey returns a fresh key, its visible prefix and its hash.
func NewKey() (key, prefix, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("auth: %w", err)
	}
	key = keyMarker + base64.RawURLEncoding.EncodeToString(b)
	return key, key[:prefixLen], HashKey(key), nil
}

// HashKey returns the stored form of a key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Service manages API keys, people's sessions and sign-in.
type Service struct {
	Store *store.Store
	Now   func() time.Time
	Log   *slog.Logger
	// Throttle bounds sign-in attempts; the zero value has the defaults.
	Throttle Throttle

	cacheOnce    sync.Once
	cache        *lru.Cache[string, cachedKey]
	sessionsOnce sync.Once
	sessions     *lru.Cache[string, cachedSession]
}

func (s *Service) sessionCache() *lru.Cache[string, cachedSession] {
	s.sessionsOnce.Do(func() { s.sessions, _ = lru.New[string, cachedSession](10000) })
	return s.sessions
}

// cachedKey is an authenticated key and when to stop trusting it. The
// expiry is checked on read: the cache runs no goroutine of its own.
type cachedKey struct {
	viewer  *tenant.Viewer
	expires time.Time
}

// CacheTTL bounds how long an authenticated key is trusted without reading
// the database again: a key revoked on this replica stops at once, on
// another replica within CacheTTL.
const CacheTTL = 10 * time.Second

func (s *Service) keyCache() *lru.Cache[string, cachedKey] {
	s.cacheOnce.Do(func() { s.cache, _ = lru.New[string, cachedKey](10000) })
	return s.cache
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CreateKey issues a key in the viewer's workspace. Only admins and
// owners may, and nobody may issue a key with more power than their own.
func (s *Service) CreateKey(ctx context.Context, name string, role tenant.Role) (string, *ent.APIKey, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return "", nil, err
	}
	if !role.Valid() {
		return "", nil, apperr.Invalid("role", "unknown role %q", role)
	}
	if !v.Role.AtLeast(role) {
		return "", nil, apperr.Forbidden("cannot create a key with role %s as %s", role, v.Role)
	}
	if len(name) > 200 {
		return "", nil, apperr.Invalid("name", "name is longer than 200 characters")
	}
	return s.createKey(ctx, pulid.ID(v.WorkspaceID), name, role)
}

// CreateKeyForWorkspace issues a key as the operator (CLI, first start).
func (s *Service) CreateKeyForWorkspace(ctx context.Context, workspaceID string, name string, role tenant.Role) (string, *ent.APIKey, error) {
	if !role.Valid() {
		return "", nil, apperr.Invalid("role", "unknown role %q", role)
	}
	ctx = tenant.NewContext(ctx, tenant.System(workspaceID, "operator"))
	return s.createKey(ctx, pulid.ID(workspaceID), name, role)
}

func (s *Service) createKey(ctx context.Context, ws pulid.ID, name string, role tenant.Role) (string, *ent.APIKey, error) {
	key, prefix, hash, err := NewKey()
	if err != nil {
		return "", nil, err
	}
	var created *ent.APIKey
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Ent.Workspace.Get(ctx, ws); err != nil {
			if ent.IsNotFound(err) {
				return apperr.NotFound("workspace")
			}
			return err
		}
		created, err = tx.Ent.APIKey.Create().
			SetWorkspaceID(ws).
			SetName(name).
			SetPrefix(prefix).
			SetHash(hash).
			SetRole(apikey.Role(role)).
			SetCreatedBy(tenant.FromContext(ctx).Actor()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("auth: creating key: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "apikey.create", "APIKey", string(created.ID),
			map[string]string{"role": string(role), "prefix": prefix})
	})
	if err != nil {
		return "", nil, err
	}
	return key, created, nil
}

// RevokeKey revokes a key of the viewer's workspace. The rule of
// CreateKey holds here too: nobody revokes a key with more power than their
// own. The workspace's last owner credential cannot be revoked, or nobody
// could manage the workspace any more.
func (s *Service) RevokeKey(ctx context.Context, id pulid.ID) (*ent.APIKey, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	var out *ent.APIKey
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		k, err := tx.Ent.APIKey.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("API key")
		}
		if err != nil {
			return err
		}
		if !v.Role.AtLeast(tenant.Role(k.Role)) {
			return apperr.Forbidden("cannot revoke a key with role %s as %s", k.Role, v.Role)
		}
		if k.RevokedAt != nil {
			out = k
			return nil
		}
		now := s.now()
		if k.Role == apikey.RoleOwner && active(k, now) {
			n, err := s.ownerCredentials(ctx, tx, k.WorkspaceID, now)
			if err != nil {
				return err
			}
			if n <= 1 {
				return apperr.New(apperr.CodeConflict, "cannot revoke the workspace's last owner key: no other owner key or owner member is left (create another owner key or make a member owner first)")
			}
		}
		out, err = k.Update().SetRevokedAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("auth: revoking key: %w", err)
		}
		tx.AfterCommit(func() { s.keyCache().Remove(k.Hash) })
		return audit.Record(ctx, tx.Ent, "apikey.revoke", "APIKey", string(id), map[string]string{"prefix": k.Prefix})
	})
	return out, err
}

// active reports whether k still authenticates.
func active(k *ent.APIKey, now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// OwnerCredentials counts the credentials that can act as an owner of
// ws: its active owner API keys and its owner members. On PostgreSQL the
// rows are locked until the transaction ends, so two revocations (or
// demotions) running at once cannot each see the other's credential and
// both pass; SQLite runs one writer at a time.
func (s *Service) OwnerCredentials(ctx context.Context, tx *store.Tx, ws pulid.ID) (int, error) {
	return s.ownerCredentials(ctx, tx, ws, s.now())
}

func (s *Service) ownerCredentials(ctx context.Context, tx *store.Tx, ws pulid.ID, now time.Time) (int, error) {
	mq := tx.Ent.Membership.Query().Where(membership.WorkspaceID(ws), membership.RoleEQ(membership.RoleOwner))
	if s.Store.Dialect == dialect.Postgres {
		mq = mq.ForUpdate()
	}
	members, err := mq.IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("auth: counting owner members: %w", err)
	}
	q := tx.Ent.APIKey.Query().Where(
		apikey.WorkspaceID(ws),
		apikey.RoleEQ(apikey.RoleOwner),
		apikey.RevokedAtIsNil(),
		apikey.Or(apikey.ExpiresAtIsNil(), apikey.ExpiresAtGT(now)),
	)
	if s.Store.Dialect == dialect.Postgres {
		q = q.ForUpdate()
	}
	ids, err := q.IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("auth: counting owner keys: %w", err)
	}
	return len(ids) + len(members), nil
}

// Authenticate resolves a bearer key to a member viewer.
func (s *Service) Authenticate(ctx context.Context, key string) (*tenant.Viewer, error) {
	if !strings.HasPrefix(key, keyMarker) || len(key) != len(keyMarker)+43 {
		return nil, ErrInvalidKey
	}
	hash := HashKey(key)
	if c, ok := s.keyCache().Get(hash); ok && s.now().Before(c.expires) {
		return c.viewer, nil
	}
	// Looking a key up must cross workspaces: the key says which one.
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("authenticate"))
	k, err := s.Store.Ent.APIKey.Query().Where(apikey.Hash(hash)).Only(pctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, apperr.Unavailable(err, "authentication unavailable")
	}
	// The index matched the hash already; compare again in constant time
	// so the check does not rest on the database's string comparison.
	if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 {
		return nil, ErrInvalidKey
	}
	now := s.now()
	if k.RevokedAt != nil || (k.ExpiresAt != nil && now.After(*k.ExpiresAt)) {
		return nil, ErrInvalidKey
	}
	// Recording use at most once a minute keeps reads from turning into writes.
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		_ = s.Store.Ent.APIKey.UpdateOneID(k.ID).SetLastUsedAt(now).Exec(pctx)
	}
	v := tenant.Member(string(k.WorkspaceID), tenant.Role(k.Role), string(k.ID), "")
	// An expiring key is not cached past its expiry.
	if k.ExpiresAt == nil || k.ExpiresAt.Sub(now) > CacheTTL {
		s.keyCache().Add(hash, cachedKey{viewer: v, expires: now.Add(CacheTTL)})
	}
	return v, nil
}
