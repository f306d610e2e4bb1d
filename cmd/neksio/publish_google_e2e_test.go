package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/store/storetest"
)

// The Google Business Profile connector plugs into the same path: its
// rules are checked before anything is stored (1,500 characters, known
// call-to-action types), and an approved post with a button becomes a
// live local post at the emulator.
func TestPublishGoogleLocalPost(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		g := newGoogleEnv(t, d)
		target := func(opts map[string]any) []any {
			return []any{map[string]any{"channelId": g.Channel, "options": opts}}
		}
		_, r := g.createPost(t, g.Key, map[string]any{"text": strings.Repeat("a", 1501), "targets": target(nil)})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Equal(t, "text", r.Errors[0].Extensions["field"])
		require.Contains(t, r.Errors[0].Message, "1500")
		_, r = g.createPost(t, g.Key, map[string]any{"text": "x", "targets": target(map[string]any{"call_to_action_type": "FLY"})})
		require.Equal(t, "BAD_USER_INPUT", r.Code())
		require.Equal(t, "targets[0].options.call_to_action_type", r.Errors[0].Extensions["field"])

		g.gql(t, `mutation { updatePublishingSettings(input: {requirePostApproval: false}) { requirePostApproval } }`, nil)
		id, r := g.createPost(t, g.Key, map[string]any{"text": "Book your autumn tasting",
			"targets": target(map[string]any{"call_to_action_type": "BOOK", "call_to_action_url": "https://acme.example/book"})})
		require.Empty(t, r.Errors)
		require.Equal(t, "standard", dig(r.Data, "createPost", "targets", 0, "format"))
		r = g.act(t, g.Key, "submitPost(id: $id)", id, "", nil)
		require.Empty(t, r.Errors)
		require.Equal(t, "PUBLISHING", dig(r.Data, "submitPost", "status"), "without required approval, submitting approves")
		p := g.waitPost(t, id, "PUBLISHED")
		require.Equal(t, []string{"→DRAFT", "DRAFT→IN_REVIEW", "IN_REVIEW→APPROVED", "APPROVED→PUBLISHING", "PUBLISHING→PUBLISHED"}, transitions(p))
		posts := g.G.Posts()
		require.Len(t, posts, 1)
		require.Equal(t, "Book your autumn tasting", posts[0].Summary)
		require.NotNil(t, posts[0].CallToAction)
		require.Equal(t, "BOOK", posts[0].CallToAction.ActionType)
		require.Equal(t, posts[0].Name, dig(p, "targets", 0, "externalID"))
	})
}
