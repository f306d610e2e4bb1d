package inbox_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent/auditlog"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/plugins/sdk"
)

func (b *deliverBundle) ingestResult(t *testing.T, events ...*sdk.Event) (res struct{ Created, Updated, Duplicates, Ignored int }) {
	t.Helper()
	require.NoError(t, b.store.InTx(b.sys, func(tx *store.Tx) error {
		r, err := b.inbox.Ingest(b.sys, tx, b.ch, events)
		res.Created, res.Updated, res.Duplicates, res.Ignored = r.Created, r.Updated, r.Duplicates, r.Ignored
		return err
	}))
	return res
}

func comment(id string, meta map[string]string, action sdk.MessageAction) *sdk.Event {
	return &sdk.Event{Kind: sdk.EventMessage, Message: &sdk.Message{ExternalID: id, ThreadID: "video-1",
		ThreadKind: sdk.ThreadComment, Direction: sdk.Inbound, Action: action, Text: "nice video",
		Contact: sdk.Contact{ExternalID: "user-1"}, Timestamp: time.Now(), Metadata: meta}}
}

// A comment seen again hidden (a moderator hid it) is marked hidden, and
// shown again when it is public; a repeat that says nothing about
// visibility changes nothing; a deletion marks the time; the deletion of a
// comment never stored stores nothing.
func TestCommentVisibility(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		get := func() map[string]string {
			m, err := b.store.Ent.Message.Query().Where(message.ExternalID("c-1")).Only(b.sys)
			require.NoError(t, err)
			return m.Metadata
		}
		require.Equal(t, 1, b.ingestResult(t, comment("c-1", map[string]string{"status": "PUBLIC", "likes": "2"}, sdk.ActionCreated)).Created)
		require.Empty(t, get()["hidden"])

		res := b.ingestResult(t, comment("c-1", map[string]string{"status": "HIDDEN", "hidden": "true", "likes": "3"}, sdk.ActionCreated))
		require.Equal(t, 1, res.Updated)
		require.Equal(t, "true", get()["hidden"])
		require.Equal(t, "HIDDEN", get()["status"])
		require.Equal(t, 1, b.ingestResult(t, comment("c-1", map[string]string{"status": "HIDDEN", "hidden": "true"}, sdk.ActionCreated)).Duplicates)
		require.Equal(t, 1, b.ingestResult(t, comment("c-1", nil, sdk.ActionCreated)).Duplicates, "no word on visibility")
		require.Equal(t, "true", get()["hidden"])

		require.Equal(t, 1, b.ingestResult(t, comment("c-1", map[string]string{"status": "PUBLIC"}, sdk.ActionCreated)).Updated)
		require.Empty(t, get()["hidden"])
		require.Equal(t, "PUBLIC", get()["status"])

		del := comment("c-1", map[string]string{"comment_action": "delete"}, sdk.ActionDeleted)
		del.Message.Text = ""
		require.Equal(t, 1, b.ingestResult(t, del).Updated)
		m, err := b.store.Ent.Message.Query().Where(message.ExternalID("c-1")).Only(b.sys)
		require.NoError(t, err)
		require.NotNil(t, m.DeletedAt)
		require.Equal(t, "nice video", m.Text, "the text stays")

		unknown := comment("c-never-seen", nil, sdk.ActionDeleted)
		unknown.Message.Text = ""
		require.Equal(t, 1, b.ingestResult(t, unknown).Ignored)
		n, err := b.store.Ent.Message.Query().Where(message.ExternalID("c-never-seen")).Count(b.sys)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

// authorization.removed: the channel needs reconnecting, its tokens are
// wiped (the platform revoked them), it is audited, and a redelivery
// changes nothing.
func TestAuthorizationRemoved(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		require.NotEmpty(t, b.ch.Credentials)
		ev := &sdk.Event{Kind: sdk.EventAccount, Account: &sdk.AccountEvent{Type: "authorization_removed",
			Detail: map[string]string{"reason": "1", "reason_text": "the user disconnected the app in TikTok"}}}
		require.Equal(t, 1, b.ingestResult(t, ev).Updated)
		ch, err := b.store.Ent.Channel.Get(b.sys, b.ch.ID)
		require.NoError(t, err)
		require.Equal(t, entchannel.StatusNeedsReconnect, ch.Status)
		require.Empty(t, ch.Credentials, "tokens wiped")
		require.Nil(t, ch.TokenExpiresAt)
		require.Contains(t, ch.LastError, "the user disconnected the app in TikTok")
		require.Contains(t, ch.LastError, "reconnect")
		logs, err := b.store.Ent.AuditLog.Query().Where(auditlog.Action("channel.authorization_removed")).All(b.sys)
		require.NoError(t, err)
		require.Len(t, logs, 1)
		require.Equal(t, "1", logs[0].Metadata["reason"])

		b.ch = ch
		require.Equal(t, 1, b.ingestResult(t, ev).Duplicates, "a redelivery")
		n, err := b.store.Ent.AuditLog.Query().Where(auditlog.Action("channel.authorization_removed")).Count(b.sys)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

// A publication's progress has no workflow to reach yet: counted as
// ignored, nothing stored, no error (the platform would redeliver).
func TestPublishEventIgnored(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		res := b.ingestResult(t, &sdk.Event{Kind: sdk.EventPublish, Publish: &sdk.PublishResult{ExternalID: "p-1", State: sdk.PublishPublished}})
		require.Equal(t, 1, res.Ignored)
		n, err := b.store.Ent.Message.Query().Count(b.sys)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
