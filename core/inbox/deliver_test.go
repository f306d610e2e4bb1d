package inbox_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

// sender is a connector whose sends succeed with the platform id
// "wamid-<message id>"; onSend, when set, sees every accepted send before
// Send returns, the way a platform's status webhook can overtake the
// answer to the send call.
type sender struct {
	sdk.UnimplementedConnector
	sends  atomic.Int64
	onSend func(externalID string)
	// fail, when set, answers instead of sending.
	fail func(req *sdk.SendRequest) error
}

func (c *sender) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "fake", Version: "1", Platforms: []string{"whatsapp"}}, nil
}

func (c *sender) Send(_ context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if c.fail != nil {
		if err := c.fail(req); err != nil {
			return nil, err
		}
	}
	c.sends.Add(1)
	id := "wamid-" + req.IdempotencyKey
	if c.onSend != nil {
		c.onSend(id)
	}
	return &sdk.SendResult{ExternalID: id, Status: sdk.StatusSent}, nil
}

type deliverBundle struct {
	store  *store.Store
	inbox  *inbox.Service
	conn   *sender
	ch     *ent.Channel
	member context.Context
	sys    context.Context
}

func newDeliverBundle(t *testing.T, d storetest.Dialect) *deliverBundle {
	t.Helper()
	s := storetest.Open(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	conn := &sender{}
	channels := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(conn)}
	in := &inbox.Service{Store: s, Gateway: testenv.Gateway(conn), Channels: channels}
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "cafe")
	require.NoError(t, err)
	member := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_test", ""))
	ch, err := channels.Connect(member, channel.ConnectInput{Connector: "fake", ExternalID: "106540352242922",
		Name: "Shop", Credentials: map[string]any{"accessToken": "t"}})
	require.NoError(t, err)
	return &deliverBundle{store: s, inbox: in, conn: conn, ch: ch, member: member,
		sys: tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))}
}

// ingest stores events on the channel the way the webhook handler does.
func (b *deliverBundle) ingest(t *testing.T, events ...*sdk.Event) {
	t.Helper()
	require.NoError(t, b.store.InTx(b.sys, func(tx *store.Tx) error {
		_, err := b.inbox.Ingest(b.sys, tx, b.ch, events)
		return err
	}))
}

// replies stores n conversations, each with a customer's message and a
// pending reply to it, and returns the replies.
func (b *deliverBundle) replies(t *testing.T, n int) []*ent.Message {
	t.Helper()
	out := make([]*ent.Message, n)
	for i := range n {
		from := fmt.Sprintf("1650555%04d", i)
		b.ingest(t, &sdk.Event{Kind: sdk.EventMessage, Message: &sdk.Message{ExternalID: "in-" + from, ThreadID: from,
			ThreadKind: sdk.ThreadDirect, Direction: sdk.Inbound, Contact: sdk.Contact{ExternalID: from}, Text: "hi", Timestamp: time.Now()}})
		conv, err := b.store.Ent.Message.Query().Where(message.ExternalID("in-" + from)).QueryConversation().Only(b.sys)
		require.NoError(t, err)
		out[i], err = b.inbox.SendReply(b.member, inbox.Reply{ConversationID: conv.ID, Text: "hello"})
		require.NoError(t, err)
	}
	return out
}

func (b *deliverBundle) message(t *testing.T, m *ent.Message) *ent.Message {
	t.Helper()
	got, err := b.store.Ent.Message.Get(b.sys, m.ID)
	require.NoError(t, err)
	return got
}

// A platform's "delivered" webhook often arrives while the send job is
// still recording the platform's id. Whatever the interleaving, the status
// must end on its message: on PostgreSQL the webhook's transaction used to
// miss the uncommitted id and park the status in pending_status just after
// the send's transaction had looked there, so it stayed SENT forever.
func TestDeliveryStatusRacingTheSend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		const n = 200
		replies := b.replies(t, n)

		var webhooks sync.WaitGroup
		webhookErrs := make(chan error, n)
		b.conn.onSend = func(id string) {
			webhooks.Go(func() {
				webhookErrs <- b.store.InTx(b.sys, func(tx *store.Tx) error {
					_, err := b.inbox.Ingest(b.sys, tx, b.ch, []*sdk.Event{{Kind: sdk.EventStatus,
						Status: &sdk.StatusUpdate{MessageExternalID: id, Status: sdk.StatusDelivered, Timestamp: time.Now()}}})
					return err
				})
			})
		}
		// Deliver as the outbound queue does: many at once.
		sem := make(chan struct{}, 16)
		var sends sync.WaitGroup
		for _, m := range replies {
			sem <- struct{}{}
			sends.Go(func() {
				defer func() { <-sem }()
				require.NoError(t, b.inbox.Deliver(b.sys, string(m.ID)))
			})
		}
		sends.Wait()
		webhooks.Wait()
		close(webhookErrs)
		for err := range webhookErrs {
			require.NoError(t, err)
		}

		stuck := 0
		for _, m := range replies {
			got := b.message(t, m)
			require.Equal(t, "wamid-"+string(m.ID), *got.ExternalID)
			if got.DeliveryStatus != message.DeliveryStatusDelivered {
				stuck++
			}
		}
		parked, err := b.store.Ent.PendingStatus.Query().Count(b.sys)
		require.NoError(t, err)
		require.Zero(t, stuck, "replies whose delivered status was lost (%d statuses left in pending_status)", parked)
		require.Zero(t, parked, "statuses left in pending_status")
		require.EqualValues(t, n, b.conn.sends.Load())
	})
}
