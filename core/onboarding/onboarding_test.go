package onboarding_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/onboarding"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/channelauthorization"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// oauthConn is a connector whose grant opens a Page with its own token
// and details, and a location served by the grant's token.
type oauthConn struct {
	sdk.UnimplementedConnector
	exchanges atomic.Int64
	mu        sync.Mutex
	validated []sdk.CredentialsRequest
}

func (c *oauthConn) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "fake", Version: "1", Platforms: []string{"pages", "places"},
		Capabilities: []sdk.Capability{sdk.CapOAuth, sdk.CapValidate}}, nil
}

func (c *oauthConn) AuthorizeURL(_ context.Context, req *sdk.AuthorizeRequest) (*sdk.AuthorizeResponse, error) {
	return &sdk.AuthorizeResponse{URL: "https://platform.example/consent?" + url.Values{"state": {req.State},
		"redirect_uri": {req.RedirectURI}}.Encode()}, nil
}

func (c *oauthConn) ExchangeCode(_ context.Context, req *sdk.ExchangeRequest) (*sdk.Grant, error) {
	c.exchanges.Add(1)
	if req.Code != "good" {
		return nil, sdk.NewError(sdk.ClassPermanent, "invalid_grant", "bad code")
	}
	return &sdk.Grant{
		Credentials: sdk.Credentials{AccessToken: "user-token", RefreshToken: "refresh-1", Extra: map[string]string{"user": "u1"}},
		Accounts: []sdk.GrantedAccount{
			{AccountID: "page-1", Name: "The Page", Platform: "pages",
				Credentials: &sdk.Credentials{AccessToken: "page-token", Extra: map[string]string{"platform": "pages", "page_id": "page-1"}},
				Extra:       map[string]string{"category": "Cafe", "page_id": "ignored: the credentials' own wins"}},
			{AccountID: "place-1", Name: "The Place", Platform: "places", Extra: map[string]string{"account": "acc-9"}},
		},
	}, nil
}

func (c *oauthConn) ValidateCredentials(_ context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.validated = append(c.validated, *req)
	return &sdk.AccountInfo{}, nil
}

type gateway struct{ c sdk.Connector }

func (g gateway) Get(name string) (sdk.Connector, error) {
	if name != "fake" {
		return nil, errors.New("unknown")
	}
	return g.c, nil
}

type fixture struct {
	svc  *onboarding.Service
	conn *oauthConn
	ctx  context.Context
	now  time.Time
}

func newFixture(t *testing.T, d storetest.Dialect) *fixture {
	s := storetest.Open(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	stateKey, err := box.DeriveKey(onboarding.StateKeyPurpose)
	require.NoError(t, err)
	conn := &oauthConn{}
	f := &fixture{conn: conn, now: time.Now()}
	gw := gateway{conn}
	f.svc = &onboarding.Service{Store: s, Box: box, Gateway: gw, StateKey: stateKey, PublicURL: "https://neksio.example",
		Channels: &channel.Service{Store: s, Box: box, Gateway: gw}, Now: func() time.Time { return f.now }}
	ws, err := workspace.Create(context.Background(), s, "cafe")
	require.NoError(t, err)
	f.ctx = tenant.NewContext(context.Background(), tenant.Member(string(ws.ID), tenant.RoleAdmin, "key_admin", ""))
	return f
}

// start begins an authorization and returns its id and the state the
// platform would send back.
func (f *fixture) start(t *testing.T) (string, string) {
	a, consent, err := f.svc.Start(f.ctx, "fake")
	require.NoError(t, err)
	u, err := url.Parse(consent)
	require.NoError(t, err)
	require.Equal(t, "https://neksio.example/oauth/fake/callback", u.Query().Get("redirect_uri"))
	return string(a.ID), u.Query().Get("state")
}

// Of callbacks racing with one state, exactly one exchanges the code: the
// state is used up by a guarded update before the platform is called.
func TestCallbackUsesTheStateOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := newFixture(t, d)
		_, state := f.start(t)
		q := url.Values{"code": {"good"}, "state": {state}}
		const n = 8
		var wg sync.WaitGroup
		var granted, refused atomic.Int64
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := f.svc.Callback(context.Background(), "fake", q)
				var ce *onboarding.CallbackError
				switch {
				case err == nil && a.Status == channelauthorization.StatusGranted:
					granted.Add(1)
				case errors.As(err, &ce) && ce.Code == "used_state":
					refused.Add(1)
				default:
					t.Errorf("unexpected outcome: %v", err)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, granted.Load())
		require.EqualValues(t, n-1, refused.Load())
		require.EqualValues(t, 1, f.conn.exchanges.Load())
	})
}

// A state whose signature does not match, or that names another
// connector, is refused before anything else happens.
func TestCallbackRefusesBadStates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := newFixture(t, d)
		_, state := f.start(t)
		for _, bad := range []string{"", "x", "a.b", state + "x", "A" + state[1:]} {
			_, err := f.svc.Callback(context.Background(), "fake", url.Values{"code": {"good"}, "state": {bad}})
			var ce *onboarding.CallbackError
			require.ErrorAs(t, err, &ce, "state %q", bad)
		}
		// Another service's key (another master key) never verifies ours.
		other := *f.svc
		other.StateKey = make([]byte, 32)
		_, err := other.Callback(context.Background(), "fake", url.Values{"code": {"good"}, "state": {state}})
		var ce *onboarding.CallbackError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "invalid_state", ce.Code)
		require.Zero(t, f.conn.exchanges.Load())
	})
}

// Each account is connected with its own credentials, or the grant's when
// it has none, and carries its details; past the hour the grant is gone.
func TestConnectFromGrantAndPrune(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		f := newFixture(t, d)
		id, state := f.start(t)
		_, err := f.svc.Callback(context.Background(), "fake", url.Values{"code": {"good"}, "state": {state}})
		require.NoError(t, err)
		a, err := f.svc.Get(f.ctx, pulid.ID(id))
		require.NoError(t, err)
		require.Len(t, a.Accounts, 2)

		page, err := f.svc.Connect(f.ctx, onboarding.ConnectInput{AuthorizationID: pulid.ID(id), ExternalID: "page-1"})
		require.NoError(t, err)
		require.Equal(t, "The Page", page.Name)
		require.Equal(t, "pages", page.Platform)
		place, err := f.svc.Connect(f.ctx, onboarding.ConnectInput{AuthorizationID: pulid.ID(id), ExternalID: "place-1", Name: "Downtown"})
		require.NoError(t, err)
		require.Equal(t, "Downtown", place.Name)

		pc, err := f.svc.Channels.Credentials(page)
		require.NoError(t, err)
		require.Equal(t, "page-token", pc.AccessToken)
		require.Equal(t, map[string]string{"platform": "pages", "page_id": "page-1", "category": "Cafe"}, pc.Extra)
		lc, err := f.svc.Channels.Credentials(place)
		require.NoError(t, err)
		require.Equal(t, "user-token", lc.AccessToken)
		require.Equal(t, "refresh-1", lc.RefreshToken)
		require.Equal(t, map[string]string{"user": "u1", "account": "acc-9"}, lc.Extra)
		require.Len(t, f.conn.validated, 2, "validated like pasted credentials")

		// Past the hour: expired, then pruned with its grant.
		f.now = f.now.Add(onboarding.GrantTTL + time.Minute)
		a, err = f.svc.Get(f.ctx, pulid.ID(id))
		require.NoError(t, err)
		require.Equal(t, channelauthorization.StatusExpired, a.Status)
		_, err = f.svc.Connect(f.ctx, onboarding.ConnectInput{AuthorizationID: pulid.ID(id), ExternalID: "page-1"})
		require.Error(t, err)
		f.start(t)
		n, err := f.svc.Prune(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n, "the fresh one stays")
		_, err = f.svc.Get(f.ctx, pulid.ID(id))
		require.Error(t, err)
	})
}
