package tiktok_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

const shopper = "shopper-open-id"

// conversation has the shopper write to the business and answers the
// conversation id.
func (b *bundle) conversation(t *testing.T) string {
	t.Helper()
	_, err := b.sb.CustomerMessage(sandbox.DM{BusinessID: business, CustomerID: shopper, CustomerName: "Ana", Text: "hi"})
	require.NoError(t, err)
	return sandbox.ConversationID(business, shopper)
}

func (b *bundle) dm(conv, text string) *sdk.SendRequest {
	return &sdk.SendRequest{App: b.app, Credentials: b.creds(), AccountID: business, Kind: sdk.SendDirect,
		ThreadID: conv, RecipientID: shopper, Text: text, IdempotencyKey: "msg-1"}
}

func TestSendDirect(t *testing.T) {
	t.Parallel()

	t.Run("text in the conversation, echoed back", func(t *testing.T) {
		t.Parallel()
		echoes := make(chan []byte, 1)
		b := setup(t, sandbox.WithWebhookSink(func(body []byte) { echoes <- body }))
		ctx := background(t)
		conv := b.conversation(t)
		res, err := b.conn.Send(ctx, b.dm(conv, "Yes, we ship to Lisbon."))
		require.NoError(t, err)
		require.Equal(t, sdk.StatusSent, res.Status)
		sent := b.sb.SentMessages()
		require.Len(t, sent, 1)
		require.Equal(t, sandbox.Sent{ID: res.ExternalID, Kind: "message", BusinessID: business, ConversationID: conv,
			CustomerID: shopper, Text: "Yes, we ship to Lisbon.", At: b.now}, sent[0])

		// The platform's echo is the same message, outbound: stored, not
		// answered, and deduplicated against the send by its id.
		var echo []byte
		select {
		case echo = <-echoes:
		case <-ctx.Done():
			t.Fatal("no echo")
		}
		req := signedAt(echo, time.Now())
		req.ReceivedAt = time.Now()
		got, err := b.conn.HandleWebhook(ctx, req)
		require.NoError(t, err)
		require.Len(t, got.Events, 1)
		m := got.Events[0].Message
		require.Equal(t, res.ExternalID, m.ExternalID)
		require.Equal(t, sdk.Outbound, m.Direction)
		require.Equal(t, conv, m.ThreadID)
		require.Equal(t, shopper, m.Contact.ExternalID)
		require.Equal(t, "API", m.Metadata["message_source"])
	})

	t.Run("after 48 hours the window is closed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.conversation(t)
		b.clock.advance(tiktok.DMWindow + time.Second)
		_, err := b.conn.Send(background(t), b.dm(conv, "late"))
		sdktest.RequireClass(t, sdk.ClassWindowClosed, err)
		require.Contains(t, err.Error(), "40064")
		require.Empty(t, b.sb.SentMessages())
	})

	t.Run("at 48 hours it is still open", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.conversation(t)
		b.clock.advance(tiktok.DMWindow)
		_, err := b.conn.Send(background(t), b.dm(conv, "just in time"))
		require.NoError(t, err)
	})

	t.Run("the cap closes the window until the customer writes again", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := background(t)
		conv := b.conversation(t)
		for i := range tiktok.MaxDMsPerWindow {
			_, err := b.conn.Send(ctx, b.dm(conv, "part "+string(rune('a'+i))))
			require.NoError(t, err)
		}
		_, err := b.conn.Send(ctx, b.dm(conv, "one too many"))
		sdktest.RequireClass(t, sdk.ClassWindowClosed, err)
		require.Len(t, b.sb.SentMessages(), tiktok.MaxDMsPerWindow)

		b.clock.advance(time.Minute)
		b.conversation(t)
		_, err = b.conn.Send(ctx, b.dm(conv, "thanks for writing again"))
		require.NoError(t, err)
	})

	t.Run("a business cannot open a conversation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.Send(background(t), b.dm(sandbox.ConversationID(business, "stranger"), "hello?"))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "40007")
	})

	refusedBeforeCalling := map[string]func(b *bundle, r *sdk.SendRequest){
		"text over 6000 characters": func(_ *bundle, r *sdk.SendRequest) { r.Text = strings.Repeat("é", tiktok.MaxDMLength+1) },
		"empty text":                func(_ *bundle, r *sdk.SendRequest) { r.Text = "" },
		"an attachment": func(_ *bundle, r *sdk.SendRequest) {
			r.Attachments = []sdk.Attachment{{Type: "image", URL: "https://cdn.example/a.jpg"}}
		},
		"a template":         func(_ *bundle, r *sdk.SendRequest) { r.Template = &sdk.Template{Name: "welcome"} },
		"no conversation id": func(_ *bundle, r *sdk.SendRequest) { r.ThreadID = "" },
		"no account id":      func(_ *bundle, r *sdk.SendRequest) { r.AccountID = "" },
	}
	for name, mutate := range refusedBeforeCalling {
		t.Run("refuses "+name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := b.dm(b.conversation(t), "hello")
			mutate(b, req)
			_, err := b.conn.Send(background(t), req)
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
			require.Zero(t, b.sb.Requests())
		})
	}

	t.Run("private replies are not a TikTok thing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := b.dm("c", "hi")
		req.Kind = sdk.SendCommentPrivate
		_, err := b.conn.Send(background(t), req)
		sdktest.RequireClass(t, sdk.ClassUnsupported, err)
	})

	t.Run("a revoked authorization needs reconnecting", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.conversation(t)
		b.sb.Deauthorize(business, 1)
		_, err := b.conn.Send(background(t), b.dm(conv, "hi"))
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
		require.Contains(t, err.Error(), "40105")
	})

	t.Run("a token of another business has no permission", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.conversation(t)
		b.sb.AddAccount(sandbox.Account{OpenID: "other-business"})
		req := b.dm(conv, "hi")
		req.Credentials.AccessToken = b.sb.Grant("other-business").AccessToken
		_, err := b.conn.Send(background(t), req)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "40001")
	})

	failures := map[string]struct {
		f     sandbox.Failure
		class sdk.ErrorClass
		after time.Duration
	}{
		"rate limit code":       {sandbox.Failure{API: "business", BusinessCode: 40100, Message: "Too many requests", RetryAfter: 7 * time.Second}, sdk.ClassRetryable, 7 * time.Second},
		"HTTP 429 from a proxy": {sandbox.Failure{API: "business", HTTPStatus: 429, RetryAfter: 3 * time.Second}, sdk.ClassRetryable, 3 * time.Second},
		"HTTP 503":              {sandbox.Failure{API: "business", HTTPStatus: 503}, sdk.ClassRetryable, 0},
		"system error code":     {sandbox.Failure{API: "business", BusinessCode: 51065, Message: "System error"}, sdk.ClassRetryable, 0},
		"parameter error":       {sandbox.Failure{API: "business", BusinessCode: 40002, Message: "Param error"}, sdk.ClassPermanent, 0},
		"HTTP 400 from a proxy": {sandbox.Failure{API: "business", HTTPStatus: 400}, sdk.ClassPermanent, 0},
	}
	for name, tc := range failures {
		t.Run("classifies "+name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			conv := b.conversation(t)
			b.sb.FailNext(1, tc.f)
			_, err := b.conn.Send(background(t), b.dm(conv, "hi"))
			sdktest.RequireClass(t, tc.class, err)
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.after, e.RetryAfter)
			require.Empty(t, b.sb.SentMessages())
		})
	}

	t.Run("an unreachable platform is retryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		conv := b.conversation(t)
		b.srv.Close()
		_, err := b.conn.Send(background(t), b.dm(conv, "hi"))
		sdktest.RequireClass(t, sdk.ClassRetryable, err)
	})
}

// commentThread adds a video with a customer's comment and answers both
// ids.
func (b *bundle) commentThread(t *testing.T) (videoID, commentID string) {
	t.Helper()
	videoID, err := b.sb.AddVideo(business, "Our new espresso blend")
	require.NoError(t, err)
	c, err := b.sb.AddComment(sandbox.Comment{VideoID: videoID, UserID: shopper, Username: "ana.p", Text: "Is it decaf?"})
	require.NoError(t, err)
	return videoID, c.ID
}

func (b *bundle) reply(videoID, commentID, text string) *sdk.SendRequest {
	return &sdk.SendRequest{App: b.app, Credentials: b.creds(), AccountID: business, Kind: sdk.SendCommentPublic,
		ThreadID: videoID, RecipientID: commentID, Text: text}
}

func TestSendCommentReply(t *testing.T) {
	t.Parallel()

	t.Run("replies under the comment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := background(t)
		videoID, commentID := b.commentThread(t)
		res, err := b.conn.Send(ctx, b.reply(videoID, commentID, "No, but a decaf is coming!"))
		require.NoError(t, err)
		require.Equal(t, sdk.StatusSent, res.Status)
		sent := b.sb.SentMessages()
		require.Len(t, sent, 1)
		require.Equal(t, sandbox.Sent{ID: res.ExternalID, Kind: "comment_reply", BusinessID: business, VideoID: videoID,
			CommentID: commentID, ParentID: commentID, Text: "No, but a decaf is coming!", At: b.now}, sent[0])

		// The next sync lists the reply as the business's own, outbound.
		page, err := b.conn.Sync(ctx, &sdk.SyncRequest{App: b.app, Credentials: b.creds(), AccountID: business})
		require.NoError(t, err)
		var own *sdk.Message
		for _, ev := range page.Events {
			if ev.Message.ExternalID == res.ExternalID {
				own = ev.Message
			}
		}
		require.NotNil(t, own)
		require.Equal(t, sdk.Outbound, own.Direction)
		require.Equal(t, commentID, own.ParentID)
	})

	t.Run("over 150 characters is refused before calling", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		videoID, commentID := b.commentThread(t)
		_, err := b.conn.Send(background(t), b.reply(videoID, commentID, strings.Repeat("a", tiktok.MaxCommentLength+1)))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Zero(t, b.sb.Requests())
	})

	t.Run("150 characters go", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		videoID, commentID := b.commentThread(t)
		_, err := b.conn.Send(background(t), b.reply(videoID, commentID, strings.Repeat("é", tiktok.MaxCommentLength)))
		require.NoError(t, err)
	})

	t.Run("a deleted comment cannot be answered", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		videoID, commentID := b.commentThread(t)
		require.NoError(t, b.sb.DeleteComment(commentID))
		_, err := b.conn.Send(background(t), b.reply(videoID, commentID, "hello"))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Empty(t, b.sb.SentMessages())
	})

	t.Run("needs the video and the comment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, req := range []*sdk.SendRequest{b.reply("", "c", "hi"), b.reply("v", "", "hi"), b.reply("v", "c", "")} {
			_, err := b.conn.Send(background(t), req)
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
		}
		require.Zero(t, b.sb.Requests())
	})
}
