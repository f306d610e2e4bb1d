package jobs_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

func TestChannelRefreshWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		p := b.usePlatform()
		channels := b.inbox.Channels.(*channel.Service)
		r := newRunner(t, d, b, &jobs.ChannelRefreshWorker{Channels: channels})
		// expiring gives the channel a token that expires within the window.
		expiring := func() {
			t.Helper()
			exp := time.Now().Add(jobs.RefreshWindow / 2)
			sealed, err := channels.SealCredentials(b.ch.ID, sdk.Credentials{AccessToken: "old", RefreshToken: "r1", ExpiresAt: exp})
			require.NoError(t, err)
			require.NoError(t, b.store.Ent.Channel.UpdateOneID(b.ch.ID).SetCredentials(sealed).SetTokenExpiresAt(exp).Exec(b.sys))
		}
		get := func() *ent.Channel {
			t.Helper()
			ch, err := b.store.Ent.Channel.Get(b.sys, b.ch.ID)
			require.NoError(t, err)
			return ch
		}
		expiring()

		// A platform that cannot answer now: the job completes, the next
		// pass tries again.
		p.refresh = func(*sdk.CredentialsRequest) (*sdk.Credentials, error) {
			return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "platform unavailable"}
		}
		requireCompleted(t, r.work(t, jobargs.ChannelRefreshTokens{}, nil))
		require.WithinDuration(t, time.Now().Add(jobs.RefreshWindow/2), *get().TokenExpiresAt, time.Minute, "not refreshed")

		later := time.Now().Add(time.Hour).Truncate(time.Second)
		p.refresh = func(req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
			require.Equal(t, "r1", req.Credentials.RefreshToken)
			return &sdk.Credentials{AccessToken: "new", ExpiresAt: later}, nil
		}
		requireCompleted(t, r.work(t, jobargs.ChannelRefreshTokens{}, nil))
		ch := get()
		require.True(t, later.Equal(*ch.TokenExpiresAt), "refreshed: %v", ch.TokenExpiresAt)
		creds, err := channels.Credentials(ch)
		require.NoError(t, err)
		require.Equal(t, "new", creds.AccessToken)

		expiring()
		p.refresh = func(*sdk.CredentialsRequest) (*sdk.Credentials, error) {
			return nil, &sdk.Error{Class: sdk.ClassAuthRevoked, Message: "refresh token revoked"}
		}
		requireCompleted(t, r.work(t, jobargs.ChannelRefreshTokens{}, nil))
		require.Equal(t, entchannel.StatusNeedsReconnect, get().Status, "a revoked token needs reconnection")
	})
}

// pngBytes is a small image the media store accepts.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))))
	return buf.Bytes()
}

func TestMediaFetchWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		ctx := context.Background()
		bucket, err := media.OpenBucket(ctx, "", t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { bucket.Close() })
		b.inbox.Media = &media.Service{Ent: func(context.Context) *ent.Client { return b.store.Ent }, Bucket: bucket,
			SignKey: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://neksio.example.com", MaxBytes: 1 << 20}
		p := b.usePlatform(sdk.CapMediaFetch)
		// photo stores a customer's message with one photo, queued to fetch.
		n := 0
		photo := func() *ent.Message {
			t.Helper()
			n++
			id := "wamid.photo" + string(rune('0'+n))
			require.NoError(t, b.store.InTx(b.sys, func(tx *store.Tx) error {
				_, err := b.inbox.Ingest(b.sys, tx, b.ch, []*sdk.Event{{Kind: sdk.EventMessage, Message: &sdk.Message{
					ExternalID: id, ThreadID: "16505551234", ThreadKind: sdk.ThreadDirect, Direction: sdk.Inbound,
					Contact: sdk.Contact{ExternalID: "16505551234"}, Timestamp: time.Now(),
					Attachments: []sdk.Attachment{{Type: "image", ExternalID: "media-" + id}}}}})
				return err
			}))
			m, err := b.store.Ent.Message.Query().Where(message.ExternalID(id)).Only(b.sys)
			require.NoError(t, err)
			require.Equal(t, schematype.AttachmentPending, m.Attachments[0].Status)
			return m
		}
		attachment := func(m *ent.Message) schematype.Attachment {
			t.Helper()
			return b.message(t, string(m.ID)).Attachments[0]
		}
		r := newRunner(t, d, b, &jobs.MediaFetchWorker{Inbox: b.inbox})

		m := photo()
		args := jobargs.MediaFetch{WorkspaceID: b.ws, MessageID: string(m.ID), Index: 0}
		p.fetchMedia = func(*sdk.FetchMediaRequest) (*sdk.MediaContent, error) { return nil, retryLater() }
		res := r.work(t, args, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "after the platform's delay")
		a := attachment(m)
		require.Equal(t, schematype.AttachmentPending, a.Status, "still to fetch")
		require.Contains(t, a.Error, "rate limited")

		// The last run gives up: the attachment is FAILED, the job done.
		requireCompleted(t, r.last(t, args))
		require.Equal(t, schematype.AttachmentFailed, attachment(m).Status)

		m = photo()
		args.MessageID = string(m.ID)
		content := pngBytes(t)
		p.fetchMedia = func(req *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
			require.Equal(t, "media-"+*m.ExternalID, req.Attachment.ExternalID)
			return &sdk.MediaContent{MimeType: "image/png", Size: int64(len(content)), Name: "photo.png",
				Body: io.NopCloser(bytes.NewReader(content))}, nil
		}
		requireCompleted(t, r.work(t, args, nil))
		a = attachment(m)
		require.Equal(t, schematype.AttachmentStored, a.Status)
		require.NotEmpty(t, a.MediaID)
		require.Equal(t, "image/png", a.MimeType)

		m = photo()
		args.MessageID = string(m.ID)
		p.fetchMedia = func(*sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
			return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "media expired"}
		}
		requireCompleted(t, r.work(t, args, nil))
		a = attachment(m)
		require.Equal(t, schematype.AttachmentFailed, a.Status, "a permanent refusal is not retried")
		require.Contains(t, a.Error, "media expired")
	})
}
