package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
)

type revokeBundle struct {
	store *store.Store
	svc   *auth.Service
}

func newRevokeBundle(t *testing.T, d storetest.Dialect) *revokeBundle {
	t.Helper()
	s := storetest.Open(t, d)
	return &revokeBundle{store: s, svc: &auth.Service{Store: s}}
}

// workspace creates a workspace with one key per role given, returning the
// workspace and the keys' rows in that order.
func (b *revokeBundle) workspace(t *testing.T, roles ...tenant.Role) (string, []*ent.APIKey) {
	t.Helper()
	ctx := context.Background()
	ws, err := workspace.Create(ctx, b.store, "ws")
	require.NoError(t, err)
	keys := make([]*ent.APIKey, len(roles))
	for i, r := range roles {
		_, keys[i], err = b.svc.CreateKeyForWorkspace(ctx, string(ws.ID), string(r), r)
		require.NoError(t, err)
	}
	return string(ws.ID), keys
}

// as is the context of a member of ws acting through key k.
func as(ws string, k *ent.APIKey) context.Context {
	return tenant.NewContext(context.Background(), tenant.Member(ws, tenant.Role(k.Role), string(k.ID), ""))
}

func (b *revokeBundle) revoked(t *testing.T, ws string, id pulid.ID) bool {
	t.Helper()
	k, err := b.store.Ent.APIKey.Get(tenant.NewContext(context.Background(), tenant.System(ws, "test")), id)
	require.NoError(t, err)
	return k.RevokedAt != nil
}

func TestRevokeNeverAboveOwnRole(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newRevokeBundle(t, d)
		ws, k := b.workspace(t, tenant.RoleOwner, tenant.RoleOwner, tenant.RoleAdmin, tenant.RoleAdmin, tenant.RoleAgent)
		owner, owner2, admin, admin2, agent := k[0], k[1], k[2], k[3], k[4]

		// An admin cannot revoke an owner key, even with another owner left.
		_, err := b.svc.RevokeKey(as(ws, admin), owner2.ID)
		require.Equal(t, apperr.CodeForbidden, apperr.CodeOf(err), "%v", err)
		require.False(t, b.revoked(t, ws, owner2.ID), "a refused revocation changes nothing")

		// Agents revoke nothing; admins revoke admins and agents.
		_, err = b.svc.RevokeKey(as(ws, agent), admin2.ID)
		require.ErrorIs(t, err, tenant.ErrForbidden)
		_, err = b.svc.RevokeKey(as(ws, admin), agent.ID)
		require.NoError(t, err)
		_, err = b.svc.RevokeKey(as(ws, admin), admin2.ID)
		require.NoError(t, err)
		require.True(t, b.revoked(t, ws, admin2.ID))

		// Owners revoke owners while another stays.
		_, err = b.svc.RevokeKey(as(ws, owner), owner2.ID)
		require.NoError(t, err)
		require.True(t, b.revoked(t, ws, owner2.ID))
	})
}

func TestRevokeKeepsLastOwner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newRevokeBundle(t, d)
		ws, k := b.workspace(t, tenant.RoleOwner, tenant.RoleOwner, tenant.RoleOwner)
		owner, expired, other := k[0], k[1], k[2]
		sys := tenant.NewContext(context.Background(), tenant.System(ws, "test"))
		require.NoError(t, b.store.Ent.APIKey.UpdateOneID(expired.ID).SetExpiresAt(time.Now().Add(-time.Minute)).Exec(sys))

		_, err := b.svc.RevokeKey(as(ws, owner), other.ID)
		require.NoError(t, err)
		// An expired owner key is no owner: owner is the last one.
		_, err = b.svc.RevokeKey(as(ws, owner), owner.ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), "last owner key")
		require.False(t, b.revoked(t, ws, owner.ID))
		// The operator is held to the same rule.
		_, err = b.svc.RevokeKey(sys, owner.ID)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err))
		// Revoking the expired one is harmless and allowed.
		_, err = b.svc.RevokeKey(as(ws, owner), expired.ID)
		require.NoError(t, err)
	})
}

// Two owners revoking each other's key at the same moment: without a lock
// both see two owners and both pass, leaving none.
func TestRevokeLastOwnerConcurrently(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newRevokeBundle(t, d)
		const rounds = 15
		for range rounds {
			ws, k := b.workspace(t, tenant.RoleOwner, tenant.RoleOwner)
			start := make(chan struct{})
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					<-start
					_, errs[i] = b.svc.RevokeKey(as(ws, k[i]), k[1-i].ID)
				})
			}
			close(start)
			wg.Wait()
			failed := 0
			for _, err := range errs {
				if err != nil {
					require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "%v", err)
					failed++
				}
			}
			require.Equal(t, 1, failed, "exactly one of two concurrent revocations of the last two owner keys passes")
			left := 0
			for _, key := range k {
				if !b.revoked(t, ws, key.ID) {
					left++
				}
			}
			require.Equal(t, 1, left)
		}
	})
}
