package inbox_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
)

// comments is a connector that records what it is asked to send and
// refuses, for good, any text starting with "fail".
type comments struct {
	sdk.UnimplementedConnector
	mu   sync.Mutex
	sent []*sdk.SendRequest
}

func (c *comments) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "comments", Version: "1", Platforms: []string{"facebook"}}, nil
}

func (c *comments) Send(_ context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if strings.HasPrefix(req.Text, "fail") {
		return nil, &sdk.Error{Class: sdk.ClassPermanent, Code: "100", Message: "the comment was deleted"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, req)
	return &sdk.SendResult{ExternalID: "out-" + req.IdempotencyKey}, nil
}

// TestReplyInReplyTo: sendReply names the comment it answers, delivery
// replies to that comment (not the thread's newest), bad names are refused
// without storing anything, and a failed reply hands off that comment.
func TestReplyInReplyTo(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		box, err := secret.New(key)
		require.NoError(t, err)
		conn := &comments{}
		channels := &channel.Service{Store: s, Box: box, Gateway: testenv.Gateway(conn)}
		in := &inbox.Service{Store: s, Gateway: testenv.Gateway(conn), Channels: channels}
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "cafe")
		require.NoError(t, err)
		member := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key_agent", ""))
		admin := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_owner", ""))
		sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		ch, err := channels.Connect(admin, channel.ConnectInput{Connector: "comments", ExternalID: "page-1",
			Name: "Page", Credentials: map[string]any{"accessToken": "t"}})
		require.NoError(t, err)

		newConv := func(kind conversation.Kind, thread string) *ent.Conversation {
			c, err := s.Ent.Conversation.Create().SetWorkspaceID(ws.ID).SetChannelID(ch.ID).SetKind(kind).SetThreadID(thread).Save(sys)
			require.NoError(t, err)
			return c
		}
		n := 0
		newMsg := func(conv *ent.Conversation, dir message.Direction, ext string) *ent.Message {
			n++
			c := s.Ent.Message.Create().SetWorkspaceID(ws.ID).SetConversationID(conv.ID).SetChannelID(ch.ID).
				SetDirection(dir).SetAuthorKind(message.AuthorKindContact).SetText("comment").
				SetSentAt(time.Now().Add(time.Duration(n) * time.Second))
			if dir == message.DirectionOutbound {
				c.SetAuthorKind(message.AuthorKindAgent)
			}
			if ext != "" {
				c.SetExternalID(ext)
			}
			m, err := c.Save(sys)
			require.NoError(t, err)
			return m
		}
		post := newConv(conversation.KindCommentThread, "post-1")
		ann := newMsg(post, message.DirectionInbound, "c-ann")
		bob := newMsg(post, message.DirectionInbound, "c-bob") // the newest comment
		ours := newMsg(post, message.DirectionOutbound, "c-ours")
		otherPost := newConv(conversation.KindCommentThread, "post-2")
		elsewhere := newMsg(otherPost, message.DirectionInbound, "c-elsewhere")
		dm := newConv(conversation.KindDirectMessage, "psid-1")
		dmMsg := newMsg(dm, message.DirectionInbound, "m-1")

		other, err := workspace.Create(ctx, s, "other")
		require.NoError(t, err)
		otherSys := tenant.NewContext(ctx, tenant.System(string(other.ID), "test"))
		otherCh, err := s.Ent.Channel.Create().SetWorkspaceID(other.ID).SetConnector("comments").SetPlatform("facebook").
			SetExternalID("page-9").SetName("Other").Save(otherSys)
		require.NoError(t, err)
		otherConv, err := s.Ent.Conversation.Create().SetWorkspaceID(other.ID).SetChannelID(otherCh.ID).
			SetKind(conversation.KindCommentThread).SetThreadID("post-9").Save(otherSys)
		require.NoError(t, err)
		foreign, err := s.Ent.Message.Create().SetWorkspaceID(other.ID).SetConversationID(otherConv.ID).SetChannelID(otherCh.ID).
			SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).SetExternalID("c-foreign").Save(otherSys)
		require.NoError(t, err)

		count := func() int {
			n, err := s.Ent.Message.Query().Where(message.DirectionEQ(message.DirectionOutbound)).Count(sys)
			require.NoError(t, err)
			return n
		}
		before := count()
		for _, c := range []struct {
			name string
			conv pulid.ID
			to   pulid.ID
			code apperr.Code
		}{
			{"another conversation's comment", post.ID, elsewhere.ID, apperr.CodeBadUserInput},
			{"another workspace's comment", post.ID, foreign.ID, apperr.CodeNotFound},
			{"no such message", post.ID, pulid.ID("msg_01J0000000000000000000000"), apperr.CodeNotFound},
			{"the business's own comment", post.ID, ours.ID, apperr.CodeBadUserInput},
			{"a direct message", dm.ID, dmMsg.ID, apperr.CodeBadUserInput},
		} {
			_, err := in.SendReply(member, inbox.Reply{ConversationID: c.conv, Text: "hi", InReplyTo: c.to})
			require.Equal(t, c.code, apperr.CodeOf(err), "%s: %v", c.name, err)
		}
		require.Equal(t, before, count(), "nothing stored")

		// Named: Ann's comment is answered although Bob's is newer.
		r, err := in.SendReply(member, inbox.Reply{ConversationID: post.ID, Text: "For Ann", InReplyTo: ann.ID})
		require.NoError(t, err)
		require.Equal(t, "c-ann", r.ReplyToExternalID)
		require.NoError(t, in.Deliver(sys, string(r.ID)))
		// Unnamed: the newest comment, as before.
		r, err = in.SendReply(member, inbox.Reply{ConversationID: post.ID, Text: "For whoever"})
		require.NoError(t, err)
		require.NoError(t, in.Deliver(sys, string(r.ID)))
		require.Len(t, conn.sent, 2)
		require.Equal(t, "c-ann", conn.sent[0].RecipientID)
		require.Equal(t, sdk.SendCommentPublic, conn.sent[0].Kind)
		require.Equal(t, "c-bob", conn.sent[1].RecipientID)

		// A reply to Ann that fails for good hands off Ann's comment.
		r, err = in.SendReply(member, inbox.Reply{ConversationID: post.ID, Text: "fail: for Ann", InReplyTo: ann.ID})
		require.NoError(t, err)
		require.NoError(t, in.Deliver(sys, string(r.ID)))
		got, err := s.Ent.Message.Get(sys, ann.ID)
		require.NoError(t, err)
		require.Contains(t, got.HandoffReason, "the comment was deleted")
		conv, err := s.Ent.Conversation.Get(sys, post.ID)
		require.NoError(t, err)
		require.Contains(t, conv.HandoffReason, "delivery failed")
		got, err = s.Ent.Message.Get(sys, bob.ID)
		require.NoError(t, err)
		require.Empty(t, got.HandoffReason, "Bob's comment is not Ann's")

		// Resolving the conversation gives the comments back to the agent.
		resolved := conversation.StatusResolved
		_, err = in.UpdateConversation(member, post.ID, inbox.ConversationUpdate{Status: &resolved})
		require.NoError(t, err)
		got, err = s.Ent.Message.Get(sys, ann.ID)
		require.NoError(t, err)
		require.Empty(t, got.HandoffReason)
	})
}
