package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
	ttsandbox "github.com/neksio/neksio/plugins/tiktok/sandbox"
)

// TikTok plugs into the same path: a video is required, the connector's
// own rule (an unaudited app posts privately) is checked before anything
// is stored, and the publication TikTok processes on its side is settled
// by its publish webhook.
func TestPublishTikTokVideo(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		// Status checks never finish it: the webhook does.
		te := newTikTokEnv(t, d, ttOption{sandbox: []ttsandbox.Option{ttsandbox.WithStatusPolls(1000)}})
		video := []any{map[string]any{"url": "https://cdn.example.com/clip.mp4"}}
		target := func(opts map[string]any) []any {
			return []any{map[string]any{"channelId": te.Channel, "options": opts}}
		}

		_, r := te.createPost(t, te.Key, map[string]any{"text": "x", "media": []any{map[string]any{"url": "https://cdn.example.com/a.jpg"}}, "targets": target(nil)})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Equal(t, "media[0]", r.Errors[0].Extensions["field"])
		_, r = te.createPost(t, te.Key, map[string]any{"text": "x", "media": video, "targets": target(map[string]any{"privacy_level": "PUBLIC_TO_EVERYONE"})})
		require.Equal(t, "BAD_USER_INPUT", r.Code(), "the connector's ValidatePost: an unaudited app posts SELF_ONLY")
		require.Equal(t, "targets[0]", r.Errors[0].Extensions["field"])

		te.gql(t, `mutation { updatePublishingSettings(input: {requirePostApproval: false}) { requirePostApproval } }`, nil)
		id, r := te.createPost(t, te.Key, map[string]any{"text": "Mug of the week #coffee", "media": video,
			"targets": target(map[string]any{"privacy_level": "SELF_ONLY"})})
		require.Empty(t, r.Errors)
		require.Empty(t, te.act(t, te.Key, "submitPost(id: $id)", id, "", nil).Errors)
		var publishID string
		require.Eventually(t, func() bool {
			p := te.post(t, id)
			publishID, _ = dig(p, "targets", 0, "externalID").(string)
			return dig(p, "targets", 0, "status") == "PUBLISHING" && publishID != ""
		}, 60*time.Second, 50*time.Millisecond, "the publication is processing at TikTok")
		pubs := te.TT.Publications()
		require.Len(t, pubs, 1)
		require.Equal(t, "https://cdn.example.com/clip.mp4", pubs[0].VideoURL)

		require.NoError(t, te.TT.CompletePublish(publishID))
		p := te.waitPost(t, id, "PUBLISHED")
		require.Equal(t, "PUBLISHED", dig(p, "targets", 0, "status"))
		require.Len(t, te.TT.Publications(), 1, "published once")
	})
}
