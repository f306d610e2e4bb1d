package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/schema/pulid"
)

const testPassword = "correct horse battery staple"

// person creates a user with testPassword and memberships (workspace,
// role pairs, oldest first).
func person(t *testing.T, s *store.Store, email string, roles map[string]tenant.Role, order ...string) *ent.User {
	t.Helper()
	pctx := tenant.NewContext(context.Background(), tenant.PlatformViewer("test"))
	hash, err := auth.HashPassword(testPassword)
	require.NoError(t, err)
	u, err := s.Ent.User.Create().SetEmail(email).SetName("Ann Lee").SetPasswordHash(hash).Save(pctx)
	require.NoError(t, err)
	for i, ws := range order {
		_, err := s.Ent.Membership.Create().SetWorkspaceID(pulid.ID(ws)).SetUserID(u.ID).
			SetRole(membership.Role(roles[ws])).SetCreatedAt(time.Now().Add(time.Duration(i) * time.Second)).Save(pctx)
		require.NoError(t, err)
	}
	return u
}

func TestSignInAndSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		svc := &auth.Service{Store: s}
		ctx := auth.WithClient(context.Background(), auth.Client{IP: "192.0.2.1", UserAgent: "test"})
		a, err := workspace.Create(ctx, s, "A")
		require.NoError(t, err)
		b, err := workspace.Create(ctx, s, "B")
		require.NoError(t, err)
		other, err := workspace.Create(ctx, s, "Other")
		require.NoError(t, err)
		u := person(t, s, "ann@example.com", map[string]tenant.Role{string(a.ID): tenant.RoleAgent, string(b.ID): tenant.RoleAdmin},
			string(a.ID), string(b.ID))

		// Wrong password and unknown email: the same error.
		_, err = svc.SignIn(ctx, "ann@example.com", "wrong password!")
		require.ErrorIs(t, err, auth.ErrBadCredentials)
		_, err = svc.SignIn(ctx, "nobody@example.com", testPassword)
		require.ErrorIs(t, err, auth.ErrBadCredentials)
		require.Equal(t, apperr.CodeUnauthenticated, apperr.CodeOf(err))

		// Emails compare case-insensitively.
		in, err := svc.SignIn(ctx, "  Ann@Example.COM ", testPassword)
		require.NoError(t, err)
		require.Equal(t, u.ID, in.User.ID)
		require.True(t, strings.HasPrefix(in.Token, "nksess_"))
		require.False(t, strings.HasPrefix(in.Token, "nks_"), "told apart from API keys")
		require.NotEqual(t, in.Token, in.Session.Hash)
		require.Equal(t, auth.HashKey(in.Token), in.Session.Hash, "only the hash is stored")
		require.Equal(t, "192.0.2.1", in.Session.IP)

		// Default: the oldest membership; explicit: the one named.
		v, err := svc.AuthenticateBearer(ctx, in.Token, "")
		require.NoError(t, err)
		require.Equal(t, string(a.ID), v.WorkspaceID)
		require.Equal(t, tenant.RoleAgent, v.Role)
		require.Equal(t, tenant.CredentialSession, v.Credential)
		require.Equal(t, string(u.ID), v.UserID)
		require.Equal(t, "user:"+string(u.ID), v.Actor())
		v, err = svc.AuthenticateBearer(ctx, in.Token, string(b.ID))
		require.NoError(t, err)
		require.Equal(t, string(b.ID), v.WorkspaceID)
		require.Equal(t, tenant.RoleAdmin, v.Role)
		_, err = svc.AuthenticateBearer(ctx, in.Token, string(other.ID))
		require.ErrorIs(t, err, auth.ErrNotMember)

		// An API key names its own workspace or none.
		key, _, err := svc.CreateKeyForWorkspace(ctx, string(a.ID), "k", tenant.RoleAgent)
		require.NoError(t, err)
		kv, err := svc.AuthenticateBearer(ctx, key, string(a.ID))
		require.NoError(t, err)
		require.Equal(t, tenant.CredentialAPIKey, kv.Credential)
		_, err = svc.AuthenticateBearer(ctx, key, string(b.ID))
		require.ErrorIs(t, err, auth.ErrNotMember)

		// Garbage and near-misses.
		for _, bad := range []string{"nksess_", "nksess_" + strings.Repeat("A", 43), in.Token + "x", in.Token[:len(in.Token)-1]} {
			_, err = svc.AuthenticateBearer(ctx, bad, "")
			require.ErrorIs(t, err, auth.ErrInvalidSession, bad)
		}

		// Signing out ends the session at once, cached or not.
		require.ErrorContains(t, svc.SignOut(tenant.NewContext(ctx, kv)), "API keys are revoked")
		require.NoError(t, svc.SignOut(tenant.NewContext(ctx, v)))
		_, err = svc.AuthenticateBearer(ctx, in.Token, "")
		require.ErrorIs(t, err, auth.ErrInvalidSession)
		_, err = svc.AuthenticateBearer(ctx, in.Token, string(b.ID))
		require.ErrorIs(t, err, auth.ErrInvalidSession)

		// Sessions expire when unused, and slide when used.
		now := time.Now()
		clock := &auth.Service{Store: s, Now: func() time.Time { return now }}
		in, err = clock.SignIn(ctx, "ann@example.com", testPassword)
		require.NoError(t, err)
		now = now.Add(auth.SessionIdleTTL - time.Hour)
		_, err = clock.AuthenticateBearer(ctx, in.Token, "")
		require.NoError(t, err, "used within the idle TTL")
		now = now.Add(auth.SessionIdleTTL - time.Hour)
		_, err = clock.AuthenticateBearer(ctx, in.Token, "")
		require.NoError(t, err, "the last use moved the expiry forward")
		now = now.Add(auth.SessionIdleTTL + time.Hour)
		_, err = clock.AuthenticateBearer(ctx, in.Token, "")
		require.ErrorIs(t, err, auth.ErrInvalidSession, "unused for longer than the idle TTL")

		// Revoking a person's sessions (removal) ends them, cached too.
		in, err = svc.SignIn(ctx, "ann@example.com", testPassword)
		require.NoError(t, err)
		_, err = svc.AuthenticateBearer(ctx, in.Token, "")
		require.NoError(t, err)
		require.NoError(t, s.InTx(tenant.NewContext(ctx, tenant.System(string(a.ID), "test")), func(tx *store.Tx) error {
			return svc.RevokeUserSessionsTx(ctx, tx, u.ID)
		}))
		_, err = svc.AuthenticateBearer(ctx, in.Token, "")
		require.ErrorIs(t, err, auth.ErrInvalidSession)
	})
}

// Sign-in attempts are throttled per email and per address; the refused
// attempt does no password work and is RATE_LIMITED.
func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		svc := &auth.Service{Store: s, Throttle: auth.Throttle{PerEmail: rate.Every(time.Hour), EmailBurst: 3, PerIP: rate.Every(time.Hour), IPBurst: 5}}
		ws, err := workspace.Create(context.Background(), s, "A")
		require.NoError(t, err)
		person(t, s, "ann@example.com", map[string]tenant.Role{string(ws.ID): tenant.RoleAgent}, string(ws.ID))
		from := func(ip string) context.Context {
			return auth.WithClient(context.Background(), auth.Client{IP: ip})
		}
		for range 3 {
			_, err := svc.SignIn(from("192.0.2.1"), "ann@example.com", "wrong password!")
			require.ErrorIs(t, err, auth.ErrBadCredentials)
		}
		// The email is spent: even the right password from elsewhere waits.
		_, err = svc.SignIn(from("192.0.2.2"), "ANN@example.com", testPassword)
		require.Equal(t, apperr.CodeRateLimited, apperr.CodeOf(err))
		// The address: 5 attempts whatever the email.
		for i := range 2 {
			_, err := svc.SignIn(from("192.0.2.1"), "x"+string(rune('a'+i))+"@example.com", "whatever it is")
			require.ErrorIs(t, err, auth.ErrBadCredentials)
		}
		_, err = svc.SignIn(from("192.0.2.1"), "bob@example.com", "whatever it is")
		require.Equal(t, apperr.CodeRateLimited, apperr.CodeOf(err))
	})
}

// Owner members count as owner credentials: the last owner key can go
// when a person owns the workspace.
func TestOwnerMembersCountAsOwnerCredentials(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newRevokeBundle(t, d)
		ws, keys := b.workspace(t, tenant.RoleOwner)
		_, err := b.svc.RevokeKey(as(ws, keys[0]), keys[0].ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "the last owner key, no owner member")
		person(t, b.store, "owner@example.com", map[string]tenant.Role{ws: tenant.RoleOwner}, ws)
		_, err = b.svc.RevokeKey(as(ws, keys[0]), keys[0].ID)
		require.NoError(t, err)
		require.True(t, b.revoked(t, ws, keys[0].ID))
	})
}
