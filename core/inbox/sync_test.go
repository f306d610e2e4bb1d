package inbox_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

// reviews is a connector that has no webhooks, only a paged list of
// reviews, like Google Business Profile.
type reviews struct {
	sdk.UnimplementedConnector
	mu      sync.Mutex
	cursors []string
}

func (r *reviews) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "reviews", Version: "1", Platforms: []string{"google"},
		Capabilities: []sdk.Capability{sdk.CapSync}}, nil
}

func (r *reviews) Sync(_ context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	r.mu.Lock()
	r.cursors = append(r.cursors, req.Cursor)
	r.mu.Unlock()
	page := 0
	if req.Cursor == "p2" {
		page = 1
	}
	var events []*sdk.Event
	for i := 0; i < 3; i++ {
		n := page*3 + i
		events = append(events, &sdk.Event{Kind: sdk.EventMessage, Platform: "google", AccountID: req.AccountID,
			Message: &sdk.Message{ExternalID: fmt.Sprintf("review-%d", n), ThreadKind: sdk.ThreadReview,
				ThreadID: fmt.Sprintf("review-%d", n), Direction: sdk.Inbound, Rating: 1 + n%5,
				Contact: sdk.Contact{ExternalID: fmt.Sprintf("reviewer-%d", n), Name: "Reviewer"},
				Text:    "Great coffee", Timestamp: time.Now()}})
	}
	if page == 0 {
		return &sdk.SyncResult{Events: events, NextCursor: "p2", More: true}, nil
	}
	return &sdk.SyncResult{Events: events, NextCursor: ""}, nil
}

func TestSyncAll(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		box, err := secret.New(key)
		require.NoError(t, err)
		conn := &reviews{}
		channels := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(conn)}
		in := &inbox.Service{Store: s, Gateway: testenv.Gateway(conn), Channels: channels}
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "cafe")
		require.NoError(t, err)
		actx := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_test", ""))
		ch, err := channels.Connect(actx, channel.ConnectInput{Connector: "reviews", ExternalID: "accounts/1/locations/2",
			Name: "Cafe", Credentials: map[string]any{"accessToken": "t"}})
		require.NoError(t, err)

		require.NoError(t, in.SyncAll(ctx))
		n, err := s.Ent.Conversation.Query().Where(conversation.KindEQ(conversation.KindReview)).Count(actx)
		require.NoError(t, err)
		require.Equal(t, 6, n, "both pages, one conversation per review")
		got, err := s.Ent.Channel.Get(actx, ch.ID)
		require.NoError(t, err)
		require.NotNil(t, got.SyncedAt)
		require.Empty(t, got.SyncCursor)
		m, err := s.Ent.Message.Query().First(actx)
		require.NoError(t, err)
		require.NotNil(t, m.Rating, "a review's stars are on its message")

		// Another pass stores nothing twice.
		require.NoError(t, in.SyncAll(ctx))
		count, err := s.Ent.Message.Query().Count(actx)
		require.NoError(t, err)
		require.Equal(t, 6, count)
		require.Equal(t, []string{"", "p2", "", "p2"}, conn.cursors)
	})
}
