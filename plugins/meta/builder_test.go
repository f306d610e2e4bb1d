package meta_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

// TestSandboxBuilders checks that the emulator's webhook builders are what
// the connector parses, so `neksio simulate` exercises the real path.
func TestSandboxBuilders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		body     []byte
		platform string
		account  string
		kind     sdk.ThreadKind
		dir      sdk.Direction
		thread   string
		text     string
	}{
		{"messenger text", sandbox.MessengerText(pageID, psid, "hi"), meta.PlatformFacebook, pageID, sdk.ThreadDirect, sdk.Inbound, psid, "hi"},
		{"messenger attachment", sandbox.MessengerAttachment(pageID, psid, "image", "https://x.example/a.jpg"), meta.PlatformFacebook, pageID, sdk.ThreadDirect, sdk.Inbound, psid, ""},
		{"messenger echo", sandbox.MessengerEcho(pageID, psid, "ours"), meta.PlatformFacebook, pageID, sdk.ThreadDirect, sdk.Outbound, psid, "ours"},
		{"page comment", sandbox.PageComment(pageID, pageID+"_1", "", "7", "Ada", "nice", "add"), meta.PlatformFacebook, pageID, sdk.ThreadComment, sdk.Inbound, pageID + "_1", "nice"},
		{"page self comment", sandbox.PageSelfComment(pageID, pageID+"_1", "thanks"), meta.PlatformFacebook, pageID, sdk.ThreadComment, sdk.Outbound, pageID + "_1", "thanks"},
		{"instagram dm", sandbox.InstagramDM(igID, igsid, "yo"), meta.PlatformInstagram, igID, sdk.ThreadDirect, sdk.Inbound, igsid, "yo"},
		{"instagram echo", sandbox.InstagramEcho(igID, igsid, "ours"), meta.PlatformInstagram, igID, sdk.ThreadDirect, sdk.Outbound, igsid, "ours"},
		{"instagram comment", sandbox.InstagramComment(igID, "m1", "", "9", "someone", "wow"), meta.PlatformInstagram, igID, sdk.ThreadComment, sdk.Inbound, "m1", "wow"},
		{"instagram self comment", sandbox.InstagramSelfComment(igID, "m1", "cafe", "thx"), meta.PlatformInstagram, igID, sdk.ThreadComment, sdk.Outbound, "m1", "thx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := signedRequest(tc.body)
			req.Header = map[string][]string{"X-Hub-Signature-256": {sandbox.Sign(appSecret, tc.body)}}
			res, err := meta.New().HandleWebhook(context.Background(), req)
			require.NoError(t, err)
			require.Len(t, res.Events, 1)
			ev := res.Events[0]
			require.Equal(t, tc.platform, ev.Platform)
			require.Equal(t, tc.account, ev.AccountID)
			require.Equal(t, tc.kind, ev.Message.ThreadKind)
			require.Equal(t, tc.dir, ev.Message.Direction)
			require.Equal(t, tc.thread, ev.Message.ThreadID)
			require.Equal(t, tc.text, ev.Message.Text)
			require.NotEmpty(t, ev.Message.ExternalID)
		})
	}

	a, b := sandbox.MessengerText(pageID, psid, "same"), sandbox.MessengerText(pageID, psid, "same")
	require.NotEqual(t, a, b, "every build gets fresh ids")
}
