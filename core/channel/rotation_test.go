package channel_test

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/auditlog"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	return box
}

// racing is the rotating connector, made to show a race: the first
// refresh waits (a bounded while) for a second one to start, as two
// replicas refreshing the same grant at once would.
type racing struct {
	*rotating
	started chan struct{}
	once    sync.Once
}

func (r *racing) RefreshCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	first := false
	r.once.Do(func() { first = true })
	if first {
		select {
		case <-r.started: // a second refresh runs at the same time
		case <-time.After(2 * time.Second): // none came: it was kept out
		}
	} else {
		close(r.started)
	}
	return r.rotating.RefreshCredentials(ctx, req)
}

// Two replicas refreshing the same channel at once: the second waits for
// the first, then sees the token refreshed and leaves it. Before the lock
// both spent the same rotating refresh token, the platform refused the
// second, and the channel ended NEEDS_RECONNECT.
func TestRefreshReplicasDoNotRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		box := newBox(t)
		conn := &racing{rotating: &rotating{used: map[string]bool{}}, started: make(chan struct{})}
		replicas := []*channel.Service{
			{Store: s, Box: box, Gateway: testenv.Gateway(conn)},
			{Store: s, Box: box, Gateway: testenv.Gateway(conn)},
		}
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "acme")
		require.NoError(t, err)
		actx := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_test", ""))
		ch, err := replicas[0].Connect(actx, channel.ConnectInput{Connector: "rot", ExternalID: "acct-1", Name: "due",
			Credentials: map[string]any{"accessToken": "access-0", "refreshToken": "refresh-0",
				"expiresAt": time.Now().Add(10 * time.Minute).Format(time.RFC3339)}})
		require.NoError(t, err)

		results := make([]channel.RefreshResult, len(replicas))
		var wg sync.WaitGroup
		for i, r := range replicas {
			wg.Go(func() {
				var err error
				results[i], err = r.RefreshDue(ctx, time.Hour)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, 1, results[0].Refreshed+results[1].Refreshed)
		require.Equal(t, 1, results[0].Skipped+results[1].Skipped, "%+v", results)
		require.Zero(t, results[0].Revoked+results[1].Revoked)
		require.Equal(t, 1, conn.calls, "one refresh reached the platform")
		got, err := s.Ent.Channel.Get(actx, ch.ID)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusActive, got.Status)
		creds, err := replicas[0].Credentials(got)
		require.NoError(t, err)
		require.Equal(t, "refresh-1", creds.RefreshToken)
	})
}

// crashing forwards to the TikTok connector, and "crashes" once the
// platform has answered a refresh: the process would die with the new
// tokens in hand, before storing them (its context ends, so nothing it
// was doing commits).
type crashing struct {
	sdk.Connector
	crash context.CancelFunc
}

func (c crashing) RefreshCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	out, err := c.Connector.RefreshCredentials(ctx, req)
	c.crash()
	return out, err
}

// tiktokEnv is a TikTok channel connected through the real connector to
// the emulator, with a token due for refresh.
type tiktokEnv struct {
	s    *store.Store
	svc  *channel.Service
	emu  *sandbox.Server
	ch   *ent.Channel
	actx context.Context
	// first are the tokens the channel was connected with.
	first sandbox.Tokens
}

func newTikTokEnv(t *testing.T, d storetest.Dialect, opts ...sandbox.Option) *tiktokEnv {
	t.Helper()
	emu := sandbox.New(opts...)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.AddAccount(sandbox.Account{OpenID: "open-1", DisplayName: "Acme", Username: "acme"})
	app := sdk.App{APIBaseURL: srv.URL, ClientSecret: emu.ClientSecret(), Settings: map[string]string{
		tiktok.SettingClientKey: emu.ClientKey(), tiktok.SettingBusinessAPIBaseURL: srv.URL + "/open_api/v1.3"}}
	s := storetest.Open(t, d)
	svc := &channel.Service{Store: s, Box: newBox(t), Gateway: testenv.Gateway(tiktok.New()), Apps: func(string) sdk.App { return app }}
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "acme")
	require.NoError(t, err)
	actx := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_test", ""))
	toks := emu.Grant("open-1")
	ch, err := svc.Connect(actx, channel.ConnectInput{Connector: "tiktok", ExternalID: "open-1", Name: "Acme",
		Credentials: map[string]any{"accessToken": toks.AccessToken, "refreshToken": toks.RefreshToken,
			"expiresAt": time.Now().Add(30 * time.Minute).Format(time.RFC3339)}})
	require.NoError(t, err)
	return &tiktokEnv{s: s, svc: svc, emu: emu, ch: ch, actx: actx, first: toks}
}

func (e *tiktokEnv) channel(t *testing.T) (*ent.Channel, sdk.Credentials) {
	t.Helper()
	ch, err := e.s.Ent.Channel.Get(e.actx, e.ch.ID)
	require.NoError(t, err)
	if ch.Status != entchannel.StatusActive {
		return ch, sdk.Credentials{}
	}
	creds, err := e.svc.Credentials(ch)
	require.NoError(t, err)
	return ch, creds
}

// crashOnce runs a refresh pass that dies after TikTok rotated the
// refresh token and before the host stored it.
func (e *tiktokEnv) crashOnce(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	real := e.svc.Gateway
	e.svc.Gateway = testenv.Gateway(crashing{Connector: tiktok.New(), crash: cancel})
	defer func() { e.svc.Gateway = real }()
	res, err := e.svc.RefreshDue(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, channel.RefreshResult{Failed: 1}, res)
	_, creds := e.channel(t)
	require.Equal(t, e.first.RefreshToken, creds.RefreshToken, "the crash stored nothing: the old refresh token is kept")
	require.Equal(t, e.first.AccessToken, creds.AccessToken)
}

// TikTok rotates refresh tokens: the refresh's answer is stored with its
// audit record, and the rotated token works for the next refresh.
func TestRefreshRotatesWithTikTok(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newTikTokEnv(t, d)
		res, err := e.svc.RefreshDue(context.Background(), time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Refreshed: 1}, res)
		ch, creds := e.channel(t)
		require.NotEqual(t, e.first.RefreshToken, creds.RefreshToken, "rotated")
		require.NotEqual(t, e.first.AccessToken, creds.AccessToken)
		require.True(t, ch.TokenExpiresAt.After(time.Now().Add(23*time.Hour)))
		logs, err := e.s.Ent.AuditLog.Query().Where(auditlog.Action("channel.token_refresh")).All(e.actx)
		require.NoError(t, err)
		require.Len(t, logs, 1)
		require.Equal(t, "rotated", logs[0].Metadata["refresh_token"])

		// The stored (rotated) token refreshes again; the first one is spent.
		require.NoError(t, e.s.Ent.Channel.UpdateOneID(ch.ID).SetTokenExpiresAt(time.Now()).Exec(e.actx))
		res, err = e.svc.RefreshDue(context.Background(), time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Refreshed: 1}, res)
		_, err = tiktok.New().RefreshCredentials(context.Background(), &sdk.CredentialsRequest{App: e.svc.Apps("tiktok"),
			Credentials: sdk.Credentials{RefreshToken: e.first.RefreshToken}, AccountID: "open-1"})
		require.ErrorIs(t, err, sdk.ErrAuthRevoked)
	})
}

// A crash between TikTok's answer and the store: the transaction never
// commits, so the old refresh token stays stored. Whether TikTok still
// honours it is TikTok's rule. With a grace period (the old token lives
// until its successor is used) the next pass succeeds with it and stores
// the newest token.
func TestRefreshCrashWithGrace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newTikTokEnv(t, d, sandbox.WithRefreshGrace())
		e.crashOnce(t)
		res, err := e.svc.RefreshDue(context.Background(), time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Refreshed: 1}, res)
		ch, creds := e.channel(t)
		require.Equal(t, entchannel.StatusActive, ch.Status)
		require.NotEqual(t, e.first.RefreshToken, creds.RefreshToken)
		// The newest token is the one stored: it refreshes.
		_, err = tiktok.New().RefreshCredentials(context.Background(), &sdk.CredentialsRequest{App: e.svc.Apps("tiktok"),
			Credentials: creds, AccountID: "open-1"})
		require.NoError(t, err)
	})
}

// Without a grace period (what TikTok documents: the old token stops
// working once the new one is issued) the grant is lost with the crash:
// the next pass is refused and the channel says so, NEEDS_RECONNECT with a
// clear last error, never silently broken.
func TestRefreshCrashWithoutGrace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newTikTokEnv(t, d)
		e.crashOnce(t)
		res, err := e.svc.RefreshDue(context.Background(), time.Hour)
		require.NoError(t, err)
		require.Equal(t, channel.RefreshResult{Revoked: 1}, res)
		ch, _ := e.channel(t)
		require.Equal(t, entchannel.StatusNeedsReconnect, ch.Status)
		require.Contains(t, ch.LastError, "reconnect the channel")
		require.Contains(t, ch.LastError, "invalid_grant")
	})
}
