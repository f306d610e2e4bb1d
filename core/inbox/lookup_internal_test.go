package inbox

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/plugins/sdk"
)

// The ingest's lookup is written by hand, not built by ent, so it writes
// the privacy policy's workspace filter itself: it finds a conversation,
// its contact and a stored message in the viewer's workspace, nothing in
// another workspace's, and refuses a context without a workspace viewer.
func TestLookupStaysInItsWorkspace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		s := storetest.Open(t, d)
		a, err := workspace.Create(ctx, s, "A")
		require.NoError(t, err)
		b, err := workspace.Create(ctx, s, "B")
		require.NoError(t, err)
		sysA := tenant.NewContext(ctx, tenant.System(string(a.ID), "test"))
		sysB := tenant.NewContext(ctx, tenant.System(string(b.ID), "test"))
		ch, err := s.Ent.Channel.Create().SetWorkspaceID(a.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
			SetExternalID("1").Save(sysA)
		require.NoError(t, err)
		in := &Service{Store: s}
		m := &sdk.Message{ExternalID: "m1", ThreadID: "ada", Direction: sdk.Inbound, Text: "hello",
			Contact: sdk.Contact{ExternalID: "ada", Name: "Ada", Username: "ada_l"}, Timestamp: time.Now()}
		require.NoError(t, s.InTx(sysA, func(tx *store.Tx) error {
			_, err := in.Ingest(sysA, tx, ch, []*sdk.Event{{Kind: sdk.EventMessage, Message: m}})
			return err
		}))
		lookup := func(ctx context.Context, m sdk.Message) (threadLookup, error) {
			var out threadLookup
			err := s.InTx(ctx, func(tx *store.Tx) error {
				var err error
				out, err = in.lookupThread(ctx, tx, ch, &m, true)
				return err
			})
			return out, err
		}
		next := *m
		next.ExternalID = "m2"
		got, err := lookup(sysA, next)
		require.NoError(t, err)
		require.NotNil(t, got.conv)
		require.Equal(t, "ada", got.conv.ThreadID)
		require.Equal(t, a.ID, got.conv.WorkspaceID)
		require.Nil(t, got.message)
		require.True(t, got.contactKnown)
		require.NotNil(t, got.contact)
		require.Equal(t, "Ada", got.contact.Name)
		require.Equal(t, "ada_l", got.contact.Username)
		require.Nil(t, got.contact.ProfileFetchedAt, "profile never read")
		require.NotNil(t, got.conv.QueryMessages(), "bound to the transaction's client")

		got, err = lookup(sysA, *m)
		require.NoError(t, err)
		require.NotNil(t, got.message, "the stored message")
		require.Equal(t, "hello", got.message.Text)

		got, err = lookup(sysB, *m)
		require.NoError(t, err)
		require.Nil(t, got.conv, "another workspace's conversation")
		require.Nil(t, got.message, "another workspace's message")
		require.Nil(t, got.contact)

		_, err = lookup(tenant.NewContext(ctx, tenant.PlatformViewer("test")), *m)
		require.Error(t, err, "no workspace viewer")
		require.ErrorIs(t, err, tenant.ErrForbidden)
	})
}

// An edit of a stored message does not lock its conversation before the
// message: a transaction that holds the message's row lock (the agent
// flagging it, the sentiment job scoring it) and then updates the
// conversation must not deadlock with the edit's ingest. PostgreSQL only:
// SQLite runs one transaction at a time.
func TestEditWhileMessageLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.Open(t, storetest.Postgres)
	sys, ch := storetest.WhatsAppChannel(t, s)
	in := &Service{Store: s}
	ingest := func(m sdk.Message) error {
		return s.InTx(sys, func(tx *store.Tx) error {
			_, err := in.Ingest(sys, tx, ch, []*sdk.Event{{Kind: sdk.EventMessage, Message: &m}})
			return err
		})
	}
	m := sdk.Message{ExternalID: "m1", ThreadID: "ada", Direction: sdk.Inbound, Text: "hello",
		Contact: sdk.Contact{ExternalID: "ada", Name: "Ada"}, Timestamp: time.Now()}
	require.NoError(t, ingest(m))
	var msgID, convID string
	require.NoError(t, s.DB.QueryRowContext(ctx, `SELECT id, conversation_id FROM messages WHERE external_id = 'm1'`).Scan(&msgID, &convID))

	other, err := s.DB.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer other.Rollback() //nolint:errcheck
	_, err = other.ExecContext(ctx, `SELECT id FROM messages WHERE id = $1 FOR UPDATE`, msgID)
	require.NoError(t, err)

	edited := make(chan error, 1)
	go func() {
		e := m
		e.Text, e.Action, e.Timestamp = "hello again", sdk.ActionEdited, time.Now()
		edited <- ingest(e)
	}()
	// The edit's ingest reaches the message's row and waits for it.
	require.Eventually(t, func() bool {
		var waiting int
		err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting > 0
	}, 10*time.Second, 10*time.Millisecond, "the edit never waited for the message's row lock")
	_, err = other.ExecContext(ctx, `UPDATE conversations SET updated_at = now() WHERE id = $1`, convID)
	require.NoError(t, err, "the conversation is not locked by the waiting edit")
	require.NoError(t, other.Commit())
	require.NoError(t, <-edited)
	var text string
	require.NoError(t, s.DB.QueryRowContext(ctx, `SELECT text FROM messages WHERE id = $1`, msgID).Scan(&text))
	require.Equal(t, "hello again", text)
}
