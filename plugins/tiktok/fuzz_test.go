package tiktok_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/tiktok"
)

// FuzzHandleWebhook feeds signed bodies: parsing must never panic, and
// must answer either well-formed events or a malformed error (the
// signature is valid, so only the body can be at fault).
func FuzzHandleWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(``))
	f.Add([]byte(`{"event":"im_receive_msg","user_openid":"b","content":"{\"message_id\":1e999,\"conversation_id\":[],\"timestamp\":\"x\"}"}`))
	f.Add([]byte(`{"event":"comment.update","user_openid":1,"content":"{\"comment_id\":-0,\"video_id\":1.5e3,\"comment_action\":null}"}`))
	f.Add([]byte(`{"event":"post.publish.failed","user_openid":"b","content":{"publish_id":"p","reason":7}}`))
	c := tiktok.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := c.HandleWebhook(context.Background(), signedRequest(body))
		if err != nil {
			require.Nil(t, res)
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			// A client_key of another app is refused as unauthenticated.
			require.Contains(t, []sdk.ErrorClass{sdk.ClassMalformed, sdk.ClassUnauthenticated}, e.Class, "%v", err)
			return
		}
		require.NotNil(t, res)
		for i, ev := range res.Events {
			require.NotNil(t, ev, "event %d", i)
			require.Equal(t, tiktok.Platform, ev.Platform)
			require.NotEmpty(t, ev.AccountID)
			require.False(t, ev.OccurredAt.IsZero())
			switch ev.Kind {
			case sdk.EventMessage:
				m := ev.Message
				require.NotNil(t, m)
				require.NotEmpty(t, m.ExternalID)
				require.NotEmpty(t, m.ThreadID)
				require.NotEmpty(t, m.Type)
				require.Contains(t, []sdk.ThreadKind{sdk.ThreadDirect, sdk.ThreadComment}, m.ThreadKind)
			case sdk.EventAccount:
				require.NotNil(t, ev.Account)
				require.Equal(t, tiktok.AccountRemoved, ev.Account.Type)
			case sdk.EventPublish:
				require.NotNil(t, ev.Publish)
				require.NotEmpty(t, ev.Publish.ExternalID)
				if ev.Publish.State == sdk.PublishFailed {
					require.NotNil(t, ev.Publish.Error)
				}
			case sdk.EventNotify:
				require.NotNil(t, ev.Notify)
				require.NotEmpty(t, ev.Notify.ItemID)
			default:
				t.Fatalf("event %d: kind %q", i, ev.Kind)
			}
		}
	})
}
