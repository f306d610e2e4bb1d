package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

func TestOutboundWorkerDelivers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		reply := b.reply(t)
		r := newRunner(t, d, b, &jobs.OutboundWorker{Inbox: b.inbox})
		args := jobargs.OutboundDeliver{WorkspaceID: b.ws, MessageID: string(reply.ID)}

		requireCompleted(t, r.work(t, args, nil))
		require.Equal(t, message.DeliveryStatusSent, b.status(t, string(reply.ID)))
		require.EqualValues(t, 1, b.conn.calls.Load())

		// A delivered reply is not sent again by a second job.
		requireCompleted(t, r.work(t, args, nil))
		require.EqualValues(t, 1, b.conn.calls.Load())
	})
}

func TestOutboundWorkerRetryAfterSnoozes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.conn.send = func(int64, *sdk.SendRequest) (*sdk.SendResult, error) { return nil, retryLater() }
		reply := b.reply(t)
		r := newRunner(t, d, b, &jobs.OutboundWorker{Inbox: b.inbox})
		res := r.work(t, jobargs.OutboundDeliver{WorkspaceID: b.ws, MessageID: string(reply.ID)}, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "after the platform's delay")
		require.Equal(t, message.DeliveryStatusPending, b.status(t, string(reply.ID)))
	})
}

func TestContactLookupWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		p := b.usePlatform(sdk.CapLookup)
		in := b.inbound(t, "hi")
		require.NotNil(t, in.ContactID)
		r := newRunner(t, d, b, &jobs.ContactLookupWorker{Inbox: b.inbox})
		args := jobargs.ContactLookup{WorkspaceID: b.ws, ContactID: string(*in.ContactID)}

		p.lookupContact = func(*sdk.LookupRequest) (*sdk.Contact, error) { return nil, retryLater() }
		res := r.work(t, args, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "after the platform's delay")
		requireCancelled(t, r.last(t, args))

		p.lookupContact = func(req *sdk.LookupRequest) (*sdk.Contact, error) {
			require.Equal(t, "16505551234", req.ID)
			return &sdk.Contact{ExternalID: req.ID, Name: "Ada Lovelace", Username: "ada"}, nil
		}
		requireCompleted(t, r.work(t, args, nil))
		ct, err := b.store.Ent.Contact.Get(b.sys, *in.ContactID)
		require.NoError(t, err)
		require.Equal(t, "Ada Lovelace", ct.Name)
		require.NotNil(t, ct.ProfileFetchedAt)
	})
}

func TestConversationLookupWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		p := b.usePlatform(sdk.CapLookup)
		in := b.inbound(t, "hi")
		r := newRunner(t, d, b, &jobs.ConversationLookupWorker{Inbox: b.inbox})
		args := jobargs.ConversationLookup{WorkspaceID: b.ws, ConversationID: string(in.ConversationID)}

		p.lookupThread = func(*sdk.LookupRequest) (*sdk.ThreadInfo, error) { return nil, retryLater() }
		requireSnoozed(t, r.work(t, args, nil))
		requireCancelled(t, r.last(t, args))

		p.lookupThread = func(req *sdk.LookupRequest) (*sdk.ThreadInfo, error) {
			return &sdk.ThreadInfo{ID: req.ID, Subject: "Our new menu", URL: "https://example.com/p/1"}, nil
		}
		requireCompleted(t, r.work(t, args, nil))
		conv, err := b.store.Ent.Conversation.Get(b.sys, in.ConversationID)
		require.NoError(t, err)
		require.Equal(t, "Our new menu", conv.Subject)
		require.NotNil(t, conv.ContextFetchedAt)
	})
}

func TestChannelSyncWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		r := newRunner(t, d, b, &jobs.ChannelSyncWorker{Inbox: b.inbox})
		queued := func() (n int) {
			require.NoError(t, b.store.DB.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'channel.sync_channel'`).Scan(&n))
			return n
		}
		before := queued()

		requireCompleted(t, r.work(t, jobargs.ChannelSync{}, nil))
		require.Equal(t, before, queued(), "a connector without Sync gets no pass")

		b.usePlatform(sdk.CapSync)
		requireCompleted(t, r.work(t, jobargs.ChannelSync{}, nil))
		require.Equal(t, before+1, queued(), "a pass for the channel")
	})
}

func TestChannelSyncChannelWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		p := b.usePlatform(sdk.CapSync)
		r := newRunner(t, d, b, &jobs.ChannelSyncChannelWorker{Inbox: b.inbox})
		args := jobargs.ChannelSyncChannel{WorkspaceID: b.ws, ChannelID: string(b.ch.ID)}

		p.sync = func(*sdk.SyncRequest) (*sdk.SyncResult, error) { return nil, retryLater() }
		res := r.work(t, args, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "after the platform's delay")
		requireDiscarded(t, r.last(t, args), "rate limited")

		p.sync = func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
			return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "platform unavailable"}
		}
		requireRetried(t, r.work(t, args, nil), "platform unavailable")

		p.sync = func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
			return &sdk.SyncResult{Events: []*sdk.Event{{Kind: sdk.EventMessage, Message: &sdk.Message{
				ExternalID: "wamid.synced", ThreadID: "16505550000", ThreadKind: sdk.ThreadDirect, Direction: sdk.Inbound,
				Contact: sdk.Contact{ExternalID: "16505550000"}, Text: "from the backfill", Timestamp: time.Now()}}}}, nil
		}
		requireCompleted(t, r.work(t, args, nil))
		got, err := b.store.Ent.Message.Query().Where(message.ExternalID("wamid.synced")).Only(b.sys)
		require.NoError(t, err)
		require.Equal(t, "from the backfill", got.Text)

		p.sync = func(*sdk.SyncRequest) (*sdk.SyncResult, error) {
			return nil, &sdk.Error{Class: sdk.ClassAuthRevoked, Message: "token revoked"}
		}
		requireCompleted(t, r.work(t, args, nil))
		ch, err := b.store.Ent.Channel.Get(b.sys, b.ch.ID)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusNeedsReconnect, ch.Status, "a refused token marks the channel for reconnection")

		calls := p.syncs.Load()
		requireCompleted(t, r.work(t, args, nil))
		require.Equal(t, calls, p.syncs.Load(), "a channel that is not active is not synced")
	})
}
