package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/plugins/sdk"
)

// OnInboundCreate hooks run before a new inbound message is stored, with
// its conversation, and what they set is stored; they do not run for a
// repeat, a removal, or the business's own message.
func TestInboundCreateHook(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newDeliverBundle(t, d)
		var seen []string
		b.inbox.OnInboundCreate = append(b.inbox.OnInboundCreate,
			func(_ context.Context, _ *store.Tx, _ *ent.Channel, conv *ent.Conversation, create *ent.MessageCreate) error {
				id, _ := create.Mutation().ExternalID()
				seen = append(seen, id)
				require.NotNil(t, conv)
				create.SetHandoffReason("set by the hook")
				return nil
			})
		b.ingest(t, comment("c-1", nil, sdk.ActionCreated))
		b.ingest(t, comment("c-1", nil, sdk.ActionCreated)) // a repeat
		b.ingest(t, comment("c-2", nil, sdk.ActionDeleted))
		b.ingest(t, &sdk.Event{Kind: sdk.EventMessage, Message: &sdk.Message{ExternalID: "c-3", ThreadID: "video-1",
			ThreadKind: sdk.ThreadComment, Direction: sdk.Outbound, Text: "thanks!", Timestamp: time.Now()}})
		require.Equal(t, []string{"c-1"}, seen)
		for id, want := range map[string]string{"c-1": "set by the hook", "c-2": "", "c-3": ""} {
			m, err := b.store.Ent.Message.Query().Where(message.ExternalID(id)).Only(b.sys)
			require.NoError(t, err)
			require.Equal(t, want, m.HandoffReason, id)
		}
	})
}
