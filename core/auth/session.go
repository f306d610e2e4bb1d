package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/apikey"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/session"
	"github.com/neksio/neksio/ent/user"
)

// A session token is 32 random bytes, base64url-encoded behind its own
// marker (an API key's is "nks_"), so either can be told apart at a
// glance and by the server. Like keys, only the SHA-256 is stored.
const sessionMarker = "nksess_"

// Session lifetimes: a session unused for SessionIdleTTL expires; a used
// one slides forward, but never past SessionMaxAge after sign-in.
const (
	SessionIdleTTL = 30 * 24 * time.Hour
	SessionMaxAge  = 90 * 24 * time.Hour
)

// Errors of sessions and sign-in. ErrInvalidSession and ErrInvalidKey are
// UNAUTHENTICATED; ErrNotMember is FORBIDDEN.
var (
	ErrInvalidSession = errors.New("invalid or expired session")
	// ErrNotMember: the credential is valid but does not belong to the
	// workspace the request names (X-Neksio-Workspace).
	ErrNotMember = errors.New("not a member of this workspace")
	// ErrBadCredentials is the one answer to a failed sign-in, whether
	// the email is unknown or the password wrong.
	ErrBadCredentials = apperr.New(apperr.CodeUnauthenticated, "invalid email or password")
	// ErrThrottled answers sign-in attempts over the limit.
	ErrThrottled = &apperr.Error{Code: apperr.CodeRateLimited, Message: "too many sign-in attempts: try again later", RetryAfter: time.Minute}
)

// IsSessionToken reports whether a bearer value is a session token (by
// its marker; it may still be invalid).
func IsSessionToken(tok string) bool { return strings.HasPrefix(tok, sessionMarker) }

// NewSessionToken returns a fresh session token and its hash.
func NewSessionToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: %w", err)
	}
	token = sessionMarker + base64.RawURLEncoding.EncodeToString(b)
	return token, HashKey(token), nil
}

// NormalizeEmail lower-cases and checks an email address: emails are
// stored and compared lower-cased.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 320 {
		return "", apperr.Invalid("email", "not a valid email address")
	}
	return e, nil
}

// SignedIn is a new session.
type SignedIn struct {
	// Token is shown this once; the database keeps its hash.
	Token   string
	User    *ent.User
	Session *ent.Session
}

func platform(ctx context.Context, reason string) context.Context {
	return tenant.NewContext(ctx, tenant.PlatformViewer(reason))
}

// SignIn checks a person's email and password and opens a session. An
// unknown email and a wrong password get the same error after the same
// work (a password hash is verified either way). Attempts are throttled
// per email and per client address (ClientFrom(ctx)).
func (s *Service) SignIn(ctx context.Context, email, password string) (*SignedIn, error) {
	c := ClientFrom(ctx)
	if !s.Throttle.Allow(email, c.IP) {
		return nil, ErrThrottled
	}
	norm, err := NormalizeEmail(email)
	if err != nil || len(password) > 4*MaxPasswordChars {
		verifyDummy(password)
		return nil, ErrBadCredentials
	}
	pctx := platform(ctx, "sign in")
	u, err := s.Store.Ent.User.Query().Where(user.Email(norm)).Only(pctx)
	switch {
	case ent.IsNotFound(err):
		verifyDummy(password)
		s.log().InfoContext(ctx, "sign-in failed", "ip", c.IP, "reason", "unknown email")
		return nil, ErrBadCredentials
	case err != nil:
		return nil, apperr.Unavailable(err, "sign-in unavailable")
	}
	if u.PasswordHash == "" {
		verifyDummy(password)
		return nil, ErrBadCredentials
	}
	if !VerifyPassword(u.PasswordHash, password) {
		s.log().InfoContext(ctx, "sign-in failed", "ip", c.IP, "user", u.ID, "reason", "wrong password")
		return nil, ErrBadCredentials
	}
	return s.openSession(pctx, u)
}

// OpenSession opens a session for a user whose identity the caller has
// checked (accepting an invitation).
func (s *Service) OpenSession(ctx context.Context, u *ent.User) (*SignedIn, error) {
	return s.openSession(platform(ctx, "open session"), u)
}

func (s *Service) openSession(pctx context.Context, u *ent.User) (*SignedIn, error) {
	tok, hash, err := NewSessionToken()
	if err != nil {
		return nil, err
	}
	c := ClientFrom(pctx)
	now := s.now()
	var sess *ent.Session
	err = s.Store.InTx(pctx, func(tx *store.Tx) error {
		var err error
		sess, err = tx.Ent.Session.Create().
			SetUserID(u.ID).
			SetHash(hash).
			SetExpiresAt(now.Add(SessionIdleTTL)).
			SetLastSeenAt(now).
			SetIP(truncate(c.IP, 64)).
			SetUserAgent(truncate(c.UserAgent, 300)).
			Save(pctx)
		if err != nil {
			return fmt.Errorf("auth: opening session: %w", err)
		}
		// A session opens every workspace of the person: each one's
		// audit log shows it.
		ms, err := tx.Ent.Membership.Query().Where(membership.UserID(u.ID)).All(pctx)
		if err != nil {
			return fmt.Errorf("auth: listing memberships: %w", err)
		}
		for _, m := range ms {
			if err := audit.RecordFor(pctx, tx.Ent, string(m.WorkspaceID), "user:"+string(u.ID), "session.open", "Session", string(sess.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log().InfoContext(pctx, "signed in", "user", u.ID, "session", sess.ID, "ip", c.IP)
	return &SignedIn{Token: tok, User: u, Session: sess}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SignOut revokes the viewer's own session.
func (s *Service) SignOut(ctx context.Context) error {
	v := tenant.FromContext(ctx)
	if v == nil {
		return tenant.ErrUnauthenticated
	}
	if v.Credential != tenant.CredentialSession || v.SessionID == "" {
		return apperr.Invalid("credential", "signOut ends a session; API keys are revoked with revokeAPIKey")
	}
	pctx := platform(ctx, "sign out")
	err := s.Store.InTx(pctx, func(tx *store.Tx) error {
		err := tx.Ent.Session.Update().
			Where(session.ID(pulid.ID(v.SessionID)), session.RevokedAtIsNil()).
			SetRevokedAt(s.now()).Exec(pctx)
		if err != nil {
			return fmt.Errorf("auth: signing out: %w", err)
		}
		return audit.RecordFor(pctx, tx.Ent, v.WorkspaceID, v.Actor(), "session.close", "Session", v.SessionID, nil)
	})
	if err != nil {
		return err
	}
	s.InvalidateUser(v.UserID)
	return nil
}

// RevokeUserSessionsTx revokes every open session of a user inside the
// caller's transaction; the cached viewers go when it commits.
func (s *Service) RevokeUserSessionsTx(ctx context.Context, tx *store.Tx, userID pulid.ID) error {
	err := tx.Ent.Session.Update().
		Where(session.UserID(userID), session.RevokedAtIsNil()).
		SetRevokedAt(s.now()).Exec(platform(ctx, "revoke sessions"))
	if err != nil {
		return fmt.Errorf("auth: revoking sessions: %w", err)
	}
	tx.AfterCommit(func() { s.InvalidateUser(string(userID)) })
	return nil
}

// cachedSession is an authenticated session in one workspace.
type cachedSession struct {
	viewer  *tenant.Viewer
	userID  string
	expires time.Time
}

func sessionCacheKey(hash, workspace string) string { return hash + "|" + workspace }

// InvalidateUser drops the cached viewers of a user's sessions on this
// replica, so a role change, removal or sign-out bites at once here (other
// replicas within CacheTTL).
func (s *Service) InvalidateUser(userID string) {
	c := s.sessionCache()
	for _, k := range c.Keys() {
		if e, ok := c.Peek(k); ok && e.userID == userID {
			c.Remove(k)
		}
	}
}

// AuthenticateBearer resolves a bearer credential, an API key or a
// session token, to a member viewer. workspace is the workspace the
// request names (X-Neksio-Workspace), empty for the default: a key's own,
// a person's only or oldest membership. A workspace the credential does
// not belong to is ErrNotMember.
func (s *Service) AuthenticateBearer(ctx context.Context, token, workspace string) (*tenant.Viewer, error) {
	if IsSessionToken(token) {
		return s.authenticateSession(ctx, token, workspace)
	}
	v, err := s.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if workspace != "" && workspace != v.WorkspaceID {
		return nil, ErrNotMember
	}
	return v, nil
}

func (s *Service) authenticateSession(ctx context.Context, token, workspace string) (*tenant.Viewer, error) {
	if len(token) != len(sessionMarker)+43 {
		return nil, ErrInvalidSession
	}
	hash := HashKey(token)
	ck := sessionCacheKey(hash, workspace)
	now := s.now()
	if c, ok := s.sessionCache().Get(ck); ok && now.Before(c.expires) {
		return c.viewer, nil
	}
	pctx := platform(ctx, "authenticate session")
	sess, err := s.Store.Ent.Session.Query().Where(session.Hash(hash)).Only(pctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidSession
	}
	if err != nil {
		return nil, apperr.Unavailable(err, "authentication unavailable")
	}
	if subtle.ConstantTimeCompare([]byte(sess.Hash), []byte(hash)) != 1 {
		return nil, ErrInvalidSession
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return nil, ErrInvalidSession
	}
	mem, err := s.membership(pctx, sess.UserID, workspace)
	if err != nil {
		return nil, err
	}
	expires := sess.ExpiresAt
	// Sliding expiry, written at most once a minute.
	if sess.LastSeenAt == nil || now.Sub(*sess.LastSeenAt) > time.Minute {
		expires = now.Add(SessionIdleTTL)
		if limit := sess.CreatedAt.Add(SessionMaxAge); expires.After(limit) {
			expires = limit
		}
		_ = s.Store.Ent.Session.UpdateOneID(sess.ID).SetLastSeenAt(now).SetExpiresAt(expires).Exec(pctx)
	}
	v := tenant.SessionMember(string(mem.WorkspaceID), tenant.Role(mem.Role), string(sess.UserID), string(sess.ID))
	if expires.Sub(now) > CacheTTL {
		s.sessionCache().Add(ck, cachedSession{viewer: v, userID: string(sess.UserID), expires: now.Add(CacheTTL)})
	}
	return v, nil
}

// membership picks the user's membership for a request: the named
// workspace, else the only or oldest one.
func (s *Service) membership(pctx context.Context, userID pulid.ID, workspace string) (*ent.Membership, error) {
	q := s.Store.Ent.Membership.Query().Where(membership.UserID(userID))
	if workspace != "" {
		q = q.Where(membership.WorkspaceID(pulid.ID(workspace)))
	}
	m, err := q.Order(ent.Asc(membership.FieldCreatedAt), ent.Asc(membership.FieldID)).First(pctx)
	if ent.IsNotFound(err) {
		return nil, ErrNotMember
	}
	if err != nil {
		return nil, apperr.Unavailable(err, "authentication unavailable")
	}
	return m, nil
}

// Memberships lists a user's workspaces with their roles, oldest first,
// with each workspace loaded (for `me`, which crosses workspaces).
func (s *Service) Memberships(ctx context.Context, userID pulid.ID) ([]*ent.Membership, error) {
	return s.Store.Ent.Membership.Query().Where(membership.UserID(userID)).
		WithWorkspace().
		Order(ent.Asc(membership.FieldCreatedAt), ent.Asc(membership.FieldID)).
		All(platform(ctx, "memberships"))
}

// User loads a user across workspaces (for `me`).
func (s *Service) User(ctx context.Context, id pulid.ID) (*ent.User, error) {
	return s.Store.Ent.User.Get(platform(ctx, "me"), id)
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// RevokeWorkspaceKeysTx revokes every API key of workspace ws inside the
// caller's transaction (a workspace being deleted); the cached viewers go
// when it commits.
func (s *Service) RevokeWorkspaceKeysTx(ctx context.Context, tx *store.Tx, ws pulid.ID) (int, error) {
	pctx := platform(ctx, "revoke workspace keys")
	keys, err := tx.Ent.APIKey.Query().Where(apikey.WorkspaceID(ws), apikey.RevokedAtIsNil()).All(pctx)
	if err != nil {
		return 0, fmt.Errorf("auth: listing keys: %w", err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	err = tx.Ent.APIKey.Update().Where(apikey.WorkspaceID(ws), apikey.RevokedAtIsNil()).
		SetRevokedAt(s.now()).Exec(pctx)
	if err != nil {
		return 0, fmt.Errorf("auth: revoking keys: %w", err)
	}
	tx.AfterCommit(func() {
		for _, k := range keys {
			s.keyCache().Remove(k.Hash)
		}
	})
	return len(keys), nil
}
