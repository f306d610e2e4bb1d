package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/plugins/sdk"
)

// rules are the windows the built-in connectors state (plugins/*/rules.go).
var windowRules = inbox.StaticRules{
	"whatsapp": {{Platform: "whatsapp", ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour, TemplatesAllowed: true}}}},
	"meta": {{Platform: "facebook", ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour, HumanAgentWindow: 7 * 24 * time.Hour}}},
		{Platform: "instagram", ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour, HumanAgentWindow: 7 * 24 * time.Hour}}}},
	"tiktok": {{Platform: "tiktok", ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 48 * time.Hour, MaxMessages: 10}}}},
	// An old plugin states nothing.
}

// The reply window comes from the connector's Describe rules: a person's
// reply outside it, or past the platform's cap on messages, is refused
// with WINDOW_CLOSED before anything is stored or queued.
func TestReplyWindowFromRules(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s := storetest.Open(t, d)
		now := time.Now()
		humanAgentTag := false
		in := &inbox.Service{Store: s, Rules: windowRules, Now: func() time.Time { return now },
			HumanAgentAllowed: func(connector string) bool { return connector == "meta" && humanAgentTag }}
		ctx := context.Background()
		ws, err := workspace.Create(ctx, s, "cafe")
		require.NoError(t, err)
		member := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key_agent", ""))
		sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		channels := map[string]*ent.Channel{}
		for _, c := range [][2]string{{"whatsapp", "whatsapp"}, {"meta", "facebook"}, {"tiktok", "tiktok"}, {"google", "google"}} {
			ch, err := s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector(c[0]).SetPlatform(c[1]).
				SetExternalID("acct-" + c[1]).SetName(c[1]).Save(sys)
			require.NoError(t, err)
			channels[c[1]] = ch
		}
		n := 0
		conv := func(platform string, kind conversation.Kind, lastInbound time.Duration) *ent.Conversation {
			n++
			c := s.Ent.Conversation.Create().SetWorkspaceID(ws.ID).SetChannelID(channels[platform].ID).SetKind(kind).
				SetThreadID(string(rune('a' + n)))
			if lastInbound != 0 {
				c.SetLastInboundAt(now.Add(-lastInbound))
			}
			cv, err := c.Save(sys)
			require.NoError(t, err)
			return cv
		}
		outbound := func(cv *ent.Conversation, ago time.Duration, st message.DeliveryStatus) {
			require.NoError(t, s.Ent.Message.Create().SetWorkspaceID(ws.ID).SetConversationID(cv.ID).SetChannelID(cv.ChannelID).
				SetDirection(message.DirectionOutbound).SetAuthorKind(message.AuthorKindAgent).SetText("x").
				SetDeliveryStatus(st).SetSentAt(now.Add(-ago)).Exec(sys))
		}
		reply := func(cv *ent.Conversation, author message.AuthorKind) error {
			_, err := in.SendReply(member, inbox.Reply{ConversationID: cv.ID, Text: "hello", AuthorKind: author})
			return err
		}
		count := func() int {
			n, err := s.Ent.Message.Query().Count(sys)
			require.NoError(t, err)
			return n
		}

		// WhatsApp: 24 hours, templates allowed outside.
		err = reply(conv("whatsapp", conversation.KindDirectMessage, 25*time.Hour), message.AuthorKindAgent)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), "24-hour reply window is closed")
		require.Contains(t, err.Error(), "template")
		require.NoError(t, reply(conv("whatsapp", conversation.KindDirectMessage, 23*time.Hour), message.AuthorKindAgent))

		// Messenger: inside 24 hours anyone may answer. Between 24 hours
		// and 7 days only a person, and only when the app holds the
		// HUMAN_AGENT permission (NEKSIO_META_HUMAN_AGENT_TAG); after 7
		// days nobody.
		require.NoError(t, reply(conv("facebook", conversation.KindDirectMessage, 23*time.Hour), message.AuthorKindAgent))
		require.NoError(t, reply(conv("facebook", conversation.KindDirectMessage, 23*time.Hour), message.AuthorKindAI))
		before := count()
		err = reply(conv("facebook", conversation.KindDirectMessage, 3*24*time.Hour), message.AuthorKindAgent)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err), "%v", err)
		require.Contains(t, err.Error(), "24-hour reply window is closed")
		require.Contains(t, err.Error(), "NEKSIO_META_HUMAN_AGENT_TAG=true")
		require.Equal(t, before, count(), "nothing stored")
		humanAgentTag = true
		require.NoError(t, reply(conv("facebook", conversation.KindDirectMessage, 3*24*time.Hour), message.AuthorKindAgent))
		err = reply(conv("facebook", conversation.KindDirectMessage, 3*24*time.Hour), message.AuthorKindAI)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "24-hour")
		require.NotContains(t, err.Error(), "HUMAN_AGENT_TAG", "the agent never gets the tag")
		err = reply(conv("facebook", conversation.KindDirectMessage, 8*24*time.Hour), message.AuthorKindAgent)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "7-day reply window for a person's messages is closed")
		require.NotContains(t, err.Error(), "template")
		humanAgentTag = false
		err = reply(conv("facebook", conversation.KindDirectMessage, 8*24*time.Hour), message.AuthorKindAgent)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err))
		require.NotContains(t, err.Error(), "HUMAN_AGENT_TAG", "past 7 days the tag would not help")

		var jobs int
		// TikTok: 48 hours and 10 business messages since the customer's
		// last one. Older messages, drafts and failures do not count.
		tk := conv("tiktok", conversation.KindDirectMessage, time.Hour)
		outbound(tk, 2*time.Hour, message.DeliveryStatusSent) // before the customer wrote
		outbound(tk, 30*time.Minute, message.DeliveryStatusDraft)
		outbound(tk, 30*time.Minute, message.DeliveryStatusFailed)
		for range 8 {
			outbound(tk, 30*time.Minute, message.DeliveryStatusDelivered)
		}
		require.NoError(t, reply(tk, message.AuthorKindAgent), "the 9th")
		require.NoError(t, reply(tk, message.AuthorKindAgent), "the 10th")
		before, jobs = count(), storetest.CountJobs(t, s.DB, "outbound.deliver")
		err = reply(tk, message.AuthorKindAgent)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "allows 10 business messages until the customer writes again, and 10 were sent")
		require.Equal(t, before, count(), "nothing stored")
		require.Equal(t, jobs, storetest.CountJobs(t, s.DB, "outbound.deliver"), "nothing queued")
		err = reply(conv("tiktok", conversation.KindDirectMessage, 49*time.Hour), message.AuthorKindAgent)
		require.Equal(t, apperr.CodeWindowClosed, apperr.CodeOf(err))
		require.Contains(t, err.Error(), "48-hour")
		// A draft waits for approval, which checks then.
		_, err = in.SendReply(member, inbox.Reply{ConversationID: tk.ID, Text: "draft", AuthorKind: message.AuthorKindAI, Draft: true})
		require.NoError(t, err)

		// No window: comments, platforms whose connector states none,
		// and conversations with no customer message on record.
		require.NoError(t, reply(conv("tiktok", conversation.KindCommentThread, 30*24*time.Hour), message.AuthorKindAgent))
		require.NoError(t, reply(conv("google", conversation.KindDirectMessage, 30*24*time.Hour), message.AuthorKindAgent))
		require.NoError(t, reply(conv("whatsapp", conversation.KindDirectMessage, 0), message.AuthorKindAgent))
	})
}
