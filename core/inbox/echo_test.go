package inbox_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/plugins/sdk"
)

// echo is the platform's report of a message the business sent (TikTok's
// im_send_msg): outbound, with the id the send call answers.
func echo(b *deliverBundle, t *testing.T, m *ent.Message, id string) *sdk.Event {
	t.Helper()
	c, err := b.store.Ent.Conversation.Query().Where(conversation.ID(m.ConversationID)).WithContact().Only(b.sys)
	require.NoError(t, err)
	return &sdk.Event{Kind: sdk.EventMessage, Message: &sdk.Message{ExternalID: id, ThreadID: c.ThreadID,
		ThreadKind: sdk.ThreadDirect, Direction: sdk.Outbound, Contact: sdk.Contact{ExternalID: c.Edges.Contact.ExternalID},
		Text: m.Text, Timestamp: time.Now(), Metadata: map[string]string{"message_source": "API"}}}
}

// requireOneMessage checks that the reply and its echo are one message:
// the reply, SENT with the platform's id, and nothing else outbound.
func requireOneMessage(t *testing.T, b *deliverBundle, m *ent.Message) {
	t.Helper()
	out, err := b.store.Ent.Message.Query().Where(message.ConversationID(m.ConversationID),
		message.DirectionEQ(message.DirectionOutbound)).All(b.sys)
	require.NoError(t, err)
	require.Len(t, out, 1, "the echo and the reply are one message")
	require.Equal(t, m.ID, out[0].ID, "the reply keeps its row (author, agent run)")
	require.Equal(t, message.DeliveryStatusSent, out[0].DeliveryStatus)
	require.Equal(t, "wamid-"+string(m.ID), *out[0].ExternalID)
}

// An echo of the host's own send merges into the sent message whichever
// arrives first: the echo while Send has not returned yet (TikTok posts
// im_send_msg as it answers), or after the id was recorded. Never two
// messages, and an echo is never answered.
func TestEchoOfOwnSend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		replies := b.replies(t, 3)
		jobs := storetest.CountJobs(t, b.store.DB, "ai.reply")

		t.Run("echo first", func(t *testing.T) {
			m := replies[0]
			b.conn.onSend = func(id string) { b.ingest(t, echo(b, t, m, id)) }
			defer func() { b.conn.onSend = nil }()
			require.NoError(t, b.inbox.Deliver(b.sys, string(m.ID)))
			requireOneMessage(t, b, m)
		})
		t.Run("echo second", func(t *testing.T) {
			m := replies[1]
			require.NoError(t, b.inbox.Deliver(b.sys, string(m.ID)))
			b.ingest(t, echo(b, t, m, "wamid-"+string(m.ID)))
			requireOneMessage(t, b, m)
			// A redelivery of the echo is a no-op too.
			b.ingest(t, echo(b, t, m, "wamid-"+string(m.ID)))
			requireOneMessage(t, b, m)
		})
		t.Run("an echo of a message sent elsewhere stays", func(t *testing.T) {
			m := replies[2]
			b.ingest(t, echo(b, t, m, "sent-in-the-app"))
			n, err := b.store.Ent.Message.Query().Where(message.ConversationID(m.ConversationID),
				message.DirectionEQ(message.DirectionOutbound)).Count(b.sys)
			require.NoError(t, err)
			require.Equal(t, 2, n, "the pending reply and the app's message")
		})
		require.Equal(t, jobs, storetest.CountJobs(t, b.store.DB, "ai.reply"), "echoes are never answered")
	})
}

// Many sends, each racing its echo in another transaction: the lock both
// take leaves exactly one message per send.
func TestEchoRacingTheSend(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		const n = 60
		replies := b.replies(t, n)
		byID := map[string]*sdk.Event{}
		for _, m := range replies {
			byID["wamid-"+string(m.ID)] = echo(b, t, m, "wamid-"+string(m.ID))
		}
		var echoes sync.WaitGroup
		errs := make(chan error, n)
		b.conn.onSend = func(id string) {
			ev := byID[id]
			echoes.Go(func() {
				errs <- b.store.InTx(b.sys, func(tx *store.Tx) error {
					_, err := b.inbox.Ingest(b.sys, tx, b.ch, []*sdk.Event{ev})
					return err
				})
			})
		}
		sem := make(chan struct{}, 8)
		var sends sync.WaitGroup
		for _, m := range replies {
			sem <- struct{}{}
			sends.Go(func() {
				defer func() { <-sem }()
				require.NoError(t, b.inbox.Deliver(b.sys, string(m.ID)))
			})
		}
		sends.Wait()
		echoes.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for _, m := range replies {
			requireOneMessage(t, b, m)
		}
	})
}
