package inbox_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/label"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/testenv"
)

func codeOf(err error) apperr.Code {
	if errors.Is(err, tenant.ErrForbidden) {
		return apperr.CodeForbidden
	}
	return apperr.CodeOf(err)
}

type teamBundle struct {
	s      *store.Store
	in     *inbox.Service
	conn   *comments
	ws     *ent.Workspace
	sys    context.Context
	agent  context.Context
	admin  context.Context
	person *ent.User
	conv   *ent.Conversation
}

// newTeamBundle: a workspace with a DM conversation from "Maria Lopez" on
// channel "Shop", and a person, Ann, signed in as an agent.
func newTeamBundle(t *testing.T, d storetest.Dialect) *teamBundle {
	t.Helper()
	s := storetest.Open(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	conn := &comments{}
	channels := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(conn)}
	b := &teamBundle{s: s, conn: conn, in: &inbox.Service{Store: s, Gateway: testenv.Gateway(conn), Channels: channels}}
	ctx := context.Background()
	b.ws, err = workspace.Create(ctx, s, "Acme Coffee")
	require.NoError(t, err)
	ws := string(b.ws.ID)
	b.sys = tenant.NewContext(ctx, tenant.System(ws, "test"))
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("test"))
	b.person, err = s.Ent.User.Create().SetEmail("ann@example.com").SetName("Ann Lee").Save(pctx)
	require.NoError(t, err)
	_, err = s.Ent.Membership.Create().SetWorkspaceID(b.ws.ID).SetUserID(b.person.ID).SetRole(membership.RoleAgent).Save(pctx)
	require.NoError(t, err)
	b.agent = tenant.NewContext(ctx, tenant.SessionMember(ws, tenant.RoleAgent, string(b.person.ID), "ses_1"))
	b.admin = tenant.NewContext(ctx, tenant.Member(ws, tenant.RoleAdmin, "key_admin", ""))
	ch, err := channels.Connect(b.admin, channel.ConnectInput{Connector: "comments", ExternalID: "dm-1",
		Name: "Shop", Credentials: map[string]any{"accessToken": "t"}})
	require.NoError(t, err)
	ct, err := s.Ent.Contact.Create().SetWorkspaceID(b.ws.ID).SetChannelID(ch.ID).SetExternalID("psid").SetName("Maria Lopez").Save(b.sys)
	require.NoError(t, err)
	b.conv, err = s.Ent.Conversation.Create().SetWorkspaceID(b.ws.ID).SetChannelID(ch.ID).SetContactID(ct.ID).
		SetKind(conversation.KindDirectMessage).SetThreadID("psid").Save(b.sys)
	require.NoError(t, err)
	return b
}

// Notes: stored as INTERNAL messages with their author, never delivered,
// bad sizes refused with nothing stored.
func TestNotes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newTeamBundle(t, d)
		count := func() int {
			n, err := b.s.Ent.Message.Query().Count(b.sys)
			require.NoError(t, err)
			return n
		}
		for _, bad := range []string{"", "   ", strings.Repeat("x", inbox.MaxNoteChars+1), strings.Repeat("x", 100<<10)} {
			_, err := b.in.AddNote(b.agent, b.conv.ID, bad)
			require.Equal(t, apperr.CodeBadUserInput, codeOf(err), "%d chars", len(bad))
		}
		_, err := b.in.AddNote(b.agent, "cv_01JD3V0000000000000000000A", "hello")
		require.Equal(t, apperr.CodeNotFound, codeOf(err))
		analyst := tenant.NewContext(context.Background(), tenant.Member(string(b.ws.ID), tenant.RoleAnalyst, "key_an", ""))
		_, err = b.in.AddNote(analyst, b.conv.ID, "hello")
		require.Equal(t, apperr.CodeForbidden, codeOf(err))
		require.Equal(t, 0, count())

		note, err := b.in.AddNote(b.agent, b.conv.ID, "  VIP customer, refund approved by Sam  ")
		require.NoError(t, err)
		require.Equal(t, message.DirectionInternal, note.Direction)
		require.Equal(t, inbox.NoteType, note.Type)
		require.Equal(t, "VIP customer, refund approved by Sam", note.Text)
		require.Equal(t, "user:"+string(b.person.ID), note.AuthorID)
		require.Equal(t, 0, storetest.CountJobs(t, b.s.DB, "outbound.deliver"), "nothing to deliver")
		// Even if a delivery ran for it, it is not outbound: nothing is sent.
		require.NoError(t, b.in.Deliver(b.sys, string(note.ID)))
		require.Empty(t, b.conn.sent)
		_, err = b.in.AddNote(b.agent, b.conv.ID, strings.Repeat("é", inbox.MaxNoteChars))
		require.NoError(t, err, "10,000 characters, not bytes")
	})
}

// Labels: admins create them, names unique regardless of case, agents
// put them on conversations and take them off, the filter finds them.
func TestLabels(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newTeamBundle(t, d)
		_, err := b.in.CreateLabel(b.agent, "VIP", "")
		require.Equal(t, apperr.CodeForbidden, codeOf(err))
		for _, bad := range []string{"", " ", strings.Repeat("a", inbox.MaxLabelChars+1)} {
			_, err = b.in.CreateLabel(b.admin, bad, "")
			require.Equal(t, apperr.CodeBadUserInput, codeOf(err))
		}
		_, err = b.in.CreateLabel(b.admin, "VIP", "red")
		require.Equal(t, apperr.CodeBadUserInput, codeOf(err))
		vip, err := b.in.CreateLabel(b.admin, "VIP", "#ff0000")
		require.NoError(t, err)
		_, err = b.in.CreateLabel(b.admin, " vip ", "")
		require.Equal(t, apperr.CodeConflict, codeOf(err))
		n, err := b.s.Ent.Label.Query().Count(b.sys)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		_, err = b.in.LabelConversation(b.agent, b.conv.ID, vip.ID, false)
		require.NoError(t, err)
		_, err = b.in.LabelConversation(b.agent, b.conv.ID, vip.ID, false)
		require.NoError(t, err, "idempotent")
		found, err := b.s.Ent.Conversation.Query().Where(conversation.HasLabelsWith(label.Name("VIP"))).IDs(b.agent)
		require.NoError(t, err)
		require.Equal(t, []pulid.ID{b.conv.ID}, found)
		_, err = b.in.LabelConversation(b.agent, b.conv.ID, "lbl_01JD3V0000000000000000000A", false)
		require.Equal(t, apperr.CodeNotFound, codeOf(err))
		_, err = b.in.LabelConversation(b.agent, b.conv.ID, vip.ID, true)
		require.NoError(t, err)
		found, err = b.s.Ent.Conversation.Query().Where(conversation.HasLabels()).IDs(b.agent)
		require.NoError(t, err)
		require.Empty(t, found)
		require.NoError(t, b.in.DeleteLabel(b.admin, vip.ID))
	})
}

// Canned replies: shortcuts and variables are checked when saved, and
// filled in for the conversation when sent.
func TestCannedReplies(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newTeamBundle(t, d)
		bad := []struct{ shortcut, text string }{
			{"Hello", "hi"}, {"", "hi"}, {"has space", "hi"}, {strings.Repeat("a", 51), "hi"},
			{"hi", ""}, {"hi", strings.Repeat("x", inbox.MaxCannedReplyChars+1)},
			{"hi", "Hi {{contact.email}}"}, {"hi", "Hi {{contact.name}"}, {"hi", "Hi {{ nope }}"},
		}
		for _, c := range bad {
			_, err := b.in.CreateCannedReply(b.agent, c.shortcut, c.text)
			require.Equal(t, apperr.CodeBadUserInput, codeOf(err), "%q %q", c.shortcut, c.text)
		}
		cr, err := b.in.CreateCannedReply(b.agent, "greet",
			"Hi {{contact.first_name}} ({{ contact.name }}), {{agent.name}} from {{workspace.name}} on {{channel.name}} here.")
		require.NoError(t, err)
		_, err = b.in.CreateCannedReply(b.agent, "greet", "again")
		require.Equal(t, apperr.CodeConflict, codeOf(err))

		_, err = b.in.SendReply(b.agent, inbox.Reply{ConversationID: b.conv.ID, Text: "also", CannedReply: cr.ID})
		require.Equal(t, apperr.CodeBadUserInput, codeOf(err), "text or canned reply, not both")
		_, err = b.in.SendReply(b.agent, inbox.Reply{ConversationID: b.conv.ID, CannedReply: "cr_01JD3V0000000000000000000A"})
		require.Equal(t, apperr.CodeNotFound, codeOf(err))
		m, err := b.in.SendReply(b.agent, inbox.Reply{ConversationID: b.conv.ID, CannedReply: cr.ID})
		require.NoError(t, err)
		require.Equal(t, "Hi Maria (Maria Lopez), Ann Lee from Acme Coffee on Shop here.", m.Text)
		require.Equal(t, "user:"+string(b.person.ID), m.AuthorID)
		require.NoError(t, b.in.DeleteCannedReply(b.agent, cr.ID))
	})
}

// A handoff leaves the conversation unassigned and needing a human;
// assigning a member takes it out of the queue, unassigning puts it back,
// clearing the handoff ends it.
func TestNeedsHumanAndAssignment(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newTeamBundle(t, d)
		get := func() *ent.Conversation {
			c, err := b.s.Ent.Conversation.Get(b.sys, b.conv.ID)
			require.NoError(t, err)
			return c
		}
		_, err := b.in.UpdateConversation(b.agent, b.conv.ID, inbox.ConversationUpdate{AssigneeID: &b.person.ID})
		require.NoError(t, err)
		require.NoError(t, b.s.InTx(b.sys, func(tx *store.Tx) error { return b.in.HandOffTx(b.sys, tx, b.conv.ID, "asked for a human") }))
		c := get()
		require.True(t, c.NeedsHuman)
		require.Nil(t, c.AssigneeID, "a handoff unassigns")

		c, err = b.in.UpdateConversation(b.agent, b.conv.ID, inbox.ConversationUpdate{AssigneeID: &b.person.ID})
		require.NoError(t, err)
		require.False(t, c.NeedsHuman)
		require.Equal(t, b.person.ID, *c.AssigneeID)
		require.Equal(t, "user:"+string(b.person.ID), c.AssignedBy)
		require.Equal(t, "asked for a human", c.HandoffReason, "the agent stays out")

		c, err = b.in.UpdateConversation(b.agent, b.conv.ID, inbox.ConversationUpdate{ClearAssignee: true})
		require.NoError(t, err)
		require.True(t, c.NeedsHuman, "back to the queue")
		c, err = b.in.UpdateConversation(b.agent, b.conv.ID, inbox.ConversationUpdate{ClearHandoff: true})
		require.NoError(t, err)
		require.False(t, c.NeedsHuman)

		// Someone who is not a member cannot be assigned.
		pctx := tenant.NewContext(context.Background(), tenant.PlatformViewer("test"))
		stranger, err := b.s.Ent.User.Create().SetEmail("x@example.com").Save(pctx)
		require.NoError(t, err)
		_, err = b.in.UpdateConversation(b.agent, b.conv.ID, inbox.ConversationUpdate{AssigneeID: &stranger.ID})
		require.Equal(t, apperr.CodeBadUserInput, codeOf(err))
	})
}
