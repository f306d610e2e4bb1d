package channel_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

// rotating is a connector whose refresh tokens rotate, like TikTok's, and
// which refuses a refresh token it has seen before.
type rotating struct {
	sdk.UnimplementedConnector
	mu    sync.Mutex
	n     int
	used  map[string]bool
	calls int
}

func (r *rotating) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "rot", Version: "1", Platforms: []string{"rot"},
		Capabilities: []sdk.Capability{sdk.CapRefresh}}, nil
}

func (r *rotating) RefreshCredentials(_ context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.used[req.Credentials.RefreshToken] {
		return nil, sdk.NewError(sdk.ClassAuthRevoked, "10002", "refresh token already used")
	}
	r.used[req.Credentials.RefreshToken] = true
	r.n++
	return &sdk.Credentials{AccessToken: "access-" + string(rune('0'+r.n)), RefreshToken: "refresh-" + string(rune('0'+r.n)),
		ExpiresAt: time.Now().Add(24 * time.Hour)}, nil
}

func TestRefreshDue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		box, err := secret.New(key)
		require.NoError(t, err)
		conn := &rotating{used: map[string]bool{}}
		svc := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(conn)}
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		actx := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_test", ""))

		soon := time.Now().Add(10 * time.Minute).Format(time.RFC3339)
		later := time.Now().Add(48 * time.Hour).Format(time.RFC3339)
		due, err := svc.Connect(actx, channel.ConnectInput{Connector: "rot", ExternalID: "acct-1", Name: "due",
			Credentials: map[string]any{"accessToken": "access-0", "refreshToken": "refresh-0", "expiresAt": soon}})
		require.NoError(t, err)
		_, err = svc.Connect(actx, channel.ConnectInput{Connector: "rot", ExternalID: "acct-2", Name: "fresh",
			Credentials: map[string]any{"accessToken": "x", "refreshToken": "r", "expiresAt": later}})
		require.NoError(t, err)

		res, err := svc.RefreshDue(ctx, time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Refreshed: 1}, res, "only the token expiring within the window")
		ch, err := s.Ent.Channel.Get(actx, due.ID)
		require.NoError(t, err)
		creds, err := svc.Credentials(ch)
		require.NoError(t, err)
		require.Equal(t, "access-1", creds.AccessToken)
		require.Equal(t, "refresh-1", creds.RefreshToken, "the rotated refresh token is kept")
		require.True(t, ch.TokenExpiresAt.After(time.Now().Add(23*time.Hour)))

		// Nothing is due now; a second pass calls nobody.
		res, err = svc.RefreshDue(ctx, time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{}, res)
		require.Equal(t, 1, conn.calls)

		// A grant the platform refuses puts the channel up for reconnection.
		conn.mu.Lock()
		conn.used["refresh-1"] = true
		conn.mu.Unlock()
		require.NoError(t, s.Ent.Channel.UpdateOneID(due.ID).SetTokenExpiresAt(time.Now()).Exec(actx))
		res, err = svc.RefreshDue(ctx, time.Hour)
		require.NoError(t, err)
		require.Equal(t, 1, res.Revoked)
		ch, err = s.Ent.Channel.Get(actx, due.ID)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusNeedsReconnect, ch.Status)
		require.Contains(t, ch.LastError, "refresh token already used")
	})
}
