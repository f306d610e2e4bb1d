package channel_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/internal/testenv"
)

// An account belongs to one workspace at a time, enforced by the database
// (webhooks are routed by the account): the application's check could be
// raced, the partial unique index cannot.
func TestOneActiveChannelPerAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		box, err := secret.New(key)
		require.NoError(t, err)
		svc := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(&rotating{used: map[string]bool{}})}
		ctx := context.Background()
		a, err := workspace.Create(ctx, s, "A")
		require.NoError(t, err)
		b, err := workspace.Create(ctx, s, "B")
		require.NoError(t, err)
		actx := tenant.NewContext(ctx, tenant.Member(string(a.ID), tenant.RoleOwner, "key_a", ""))
		bctx := tenant.NewContext(ctx, tenant.Member(string(b.ID), tenant.RoleOwner, "key_b", ""))
		in := channel.ConnectInput{Connector: "rot", ExternalID: "acct-1", Name: "x", Credentials: map[string]any{"accessToken": "t"}}

		chA, err := svc.Connect(actx, in)
		require.NoError(t, err)
		_, err = svc.Connect(bctx, in)
		require.Equal(t, apperr.CodeConflict, apperr.CodeOf(err))

		// Past the application's check, the database still refuses.
		err = s.Ent.Channel.Create().SetWorkspaceID(b.ID).SetConnector("rot").SetPlatform("rot").
			SetExternalID("acct-1").SetName("race").Exec(bctx)
		require.True(t, ent.IsConstraintError(err), "got %v", err)

		// Once A disconnects, B may connect it; A's history stays.
		_, err = svc.Disconnect(actx, chA.ID)
		require.NoError(t, err)
		chB, err := svc.Connect(bctx, in)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusActive, chB.Status)
		got, err := s.Ent.Channel.Get(actx, chA.ID)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusDisconnected, got.Status)
	})
}
