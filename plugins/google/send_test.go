package google_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func (b *bundle) reply(review, text string) *sdk.SendRequest {
	return &sdk.SendRequest{App: b.app, Credentials: b.creds, AccountID: location, Kind: sdk.SendReviewReply,
		RecipientID: review, ThreadID: review, Text: text}
}

func (b *bundle) review(t *testing.T) string {
	t.Helper()
	return b.sb.CreateReview(accountID, locationID, sandbox.NewReview{Reviewer: "Ann", Stars: 2, Text: "Cold coffee"}).Name
}

func TestSendReplyCreatesThenReplaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := b.review(t)

	res, err := b.conn.Send(ctx(t), b.reply(name, "Sorry about that!"))
	require.NoError(t, err)
	require.Equal(t, name+"/reply", res.ExternalID)
	require.Equal(t, sdk.StatusSent, res.Status)

	res2, err := b.conn.Send(ctx(t), b.reply(name, "Sorry about that! Your next coffee is on us."))
	require.NoError(t, err)
	require.Equal(t, res.ExternalID, res2.ExternalID, "one reply per review, replaced in place")

	calls := b.sb.Replies()
	require.Len(t, calls, 2)
	require.Equal(t, http.MethodPut, calls[0].Method)
	require.Equal(t, "Sorry about that!", calls[0].Comment)
	r, ok := b.sb.Review(name)
	require.True(t, ok)
	require.Equal(t, "Sorry about that! Your next coffee is on us.", r.ReviewReply.Comment)

	// The next sync shows the reply as it is now.
	got := messages(b.sync(t, &sdk.SyncRequest{Only: []string{name}}))
	require.Equal(t, "Sorry about that! Your next coffee is on us.", got[1].Text)
	require.Equal(t, sdk.ActionEdited, got[1].Action)
}

func TestSendReplyLength(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := b.review(t)

	// 4096 bytes of two-byte characters fit; one byte more does not.
	exact := strings.Repeat("é", 2048)
	_, err := b.conn.Send(ctx(t), b.reply(name, exact))
	require.NoError(t, err)

	_, err = b.conn.Send(ctx(t), b.reply(name, exact+"!"))
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "4096")
	require.Len(t, b.sb.Replies(), 1, "a reply too long never reaches Google")

	for _, text := range []string{"", "   \n"} {
		_, err = b.conn.Send(ctx(t), b.reply(name, text))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	}
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := b.review(t)

	req := b.reply(name, "hi")
	req.Kind = sdk.SendDirect
	_, err := b.conn.Send(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassUnsupported, err)

	req = b.reply(name, "hi")
	req.Attachments = []sdk.Attachment{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}
	_, err = b.conn.Send(ctx(t), req)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)

	for _, target := range []string{"accounts/1/locations/9/reviews/r1", "accounts/1/locations/2", "../../etc/passwd", ""} {
		req = b.reply(target, "hi")
		_, err = b.conn.Send(ctx(t), req)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	}
	require.Empty(t, b.sb.Replies())
}

func TestSendToADeletedReview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := b.review(t)
	require.NoError(t, b.sb.DeleteReview(name))
	_, err := b.conn.Send(ctx(t), b.reply(name, "Thanks"))
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "no longer exists")
}

func TestDeleteReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	name := b.review(t)
	_, err := b.conn.Send(ctx(t), b.reply(name, "Thanks!"))
	require.NoError(t, err)

	del := b.conn.(sdk.Deleter)
	req := &sdk.DeleteRequest{App: b.app, Credentials: b.creds, AccountID: location, Kind: sdk.SendReviewReply, ExternalID: name + "/reply", ThreadID: name}
	require.NoError(t, del.Delete(ctx(t), req))
	r, _ := b.sb.Review(name)
	require.Nil(t, r.ReviewReply)
	calls := b.sb.Replies()
	require.Equal(t, http.MethodDelete, calls[len(calls)-1].Method)

	// Already gone: still deleted, and still success.
	require.NoError(t, del.Delete(ctx(t), req))

	req.Kind = sdk.SendCommentPublic
	sdktest.RequireClass(t, sdk.ClassUnsupported, del.Delete(ctx(t), req))
	req.Kind, req.ExternalID, req.ThreadID = sdk.SendReviewReply, "", "accounts/1/locations/9/reviews/r1"
	sdktest.RequireClass(t, sdk.ClassPermanent, del.Delete(ctx(t), req))
}

func TestRateLimits(t *testing.T) {
	t.Parallel()

	t.Run("429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		name := b.review(t)
		b.sb.FailNext(1, http.StatusTooManyRequests, 17*time.Second)
		_, err := b.conn.Send(ctx(t), b.reply(name, "hi"))
		sdktest.RequireClass(t, sdk.ClassRetryable, err)
		require.Equal(t, 17*time.Second, errOf(t, err).RetryAfter)
		require.Equal(t, "RESOURCE_EXHAUSTED", errOf(t, err).Code)
		_, err = b.conn.Send(ctx(t), b.reply(name, "hi"))
		require.NoError(t, err, "the next call goes through")
	})

	t.Run("429 without Retry-After waits for the next minute", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.FailNext(1, http.StatusTooManyRequests, 0)
		_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location})
		sdktest.RequireClass(t, sdk.ClassRetryable, err)
		require.Equal(t, time.Minute, errOf(t, err).RetryAfter)
	})

	t.Run("5xx", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
			b.sb.FailNext(1, status, 3*time.Second)
			_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location})
			sdktest.RequireClass(t, sdk.ClassRetryable, err)
			require.Equal(t, 3*time.Second, errOf(t, err).RetryAfter)
		}
	})

	t.Run("the emulator's quota", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.WithQuota(2))
		for range 2 {
			_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location})
			require.NoError(t, err)
		}
		_, err := b.conn.Sync(ctx(t), &sdk.SyncRequest{App: b.app, Credentials: b.creds, AccountID: location})
		sdktest.RequireClass(t, sdk.ClassRetryable, err)
		require.Positive(t, errOf(t, err).RetryAfter)
		require.LessOrEqual(t, errOf(t, err).RetryAfter, time.Minute)
	})
}
