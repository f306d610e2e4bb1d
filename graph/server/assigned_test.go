package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// conversationAssigned streams a member's own assignments. Subscribers
// re-read the conversation when its event reaches them, so an assignment
// to someone else that is read after the conversation was given to the
// member looks like theirs; the event says whom it assigned, and that
// one is not delivered (it was, and Ann's team test saw her assignment
// twice).
func TestConversationAssignedIsTheAssigneesOwn(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := setupRT(t, d)
		ctx := context.Background()
		member := func(email string) pulid.ID {
			u, _, err := b.team.CreateUser(ctx, email, b.ws, tenant.RoleAgent, func() (string, error) { return "correct horse battery staple", nil })
			require.NoError(t, err)
			return u.ID
		}
		ann, bob := member("ann@example.com"), member("bob@example.com")
		b.ingest(t, b.channel, "16505550101", "first", "wamid.as1", "")
		b.ingest(t, b.channel, "16505550102", "second", "wamid.as2", "")
		sys := tenant.NewContext(ctx, tenant.System(b.ws, "test"))
		convs, err := b.store.Ent.Conversation.Query().Order(ent.Asc(conversation.FieldID)).All(sys)
		require.NoError(t, err)
		require.Len(t, convs, 2)
		first, second := convs[0], convs[1]

		c := b.dial(t, "graphql-transport-ws")
		c.init(b.key)
		c.subscribe("mine", `subscription($a: ID) { conversationAssigned(assigneeId: $a) { id assignee { id } } }`, map[string]any{"a": ann})
		require.Eventually(t, func() bool { return b.store.Bus.Len() == 1 }, wait, 5*time.Millisecond)

		// The first conversation went to Bob and then to Ann; Bob's event
		// arrives only now, when the conversation reads as Ann's.
		require.NoError(t, b.store.Ent.Conversation.UpdateOne(first).SetAssigneeID(ann).Exec(sys))
		b.store.Bus.Publish(event.Event{Type: event.ConversationAssigned, WorkspaceID: b.ws, ObjectID: string(first.ID),
			ConversationID: string(first.ID), ChannelID: string(first.ChannelID), AssigneeID: string(bob)})
		// Then the second is given to Ann, through the inbox as a person does.
		owner := tenant.NewContext(ctx, tenant.Member(b.ws, tenant.RoleOwner, "key_test", ""))
		_, err = b.inbox.UpdateConversation(owner, second.ID, inbox.ConversationUpdate{AssigneeID: &ann})
		require.NoError(t, err)

		got := c.next("mine")
		require.Equal(t, string(second.ID), dig(got, "conversationAssigned", "id"), "Bob's assignment is not Ann's")
		require.Equal(t, string(ann), dig(got, "conversationAssigned", "assignee", "id"))
	})
}
