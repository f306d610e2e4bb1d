package meta_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
)

func (b *testBundle) publish(platform string, post sdk.Post) (*sdk.PublishResult, error) {
	creds, account := b.fbCreds(), pageID
	if platform == meta.PlatformInstagram {
		creds, account = b.igCreds(), igID
	}
	return b.conn.Publish(context.Background(), &sdk.PublishRequest{App: b.app, Credentials: creds, AccountID: account, Platform: platform, Post: post})
}

func byKind(posts []sandbox.Published, kind string) []sandbox.Published {
	var out []sandbox.Published
	for _, p := range posts {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func TestPublishFacebook(t *testing.T) {
	t.Parallel()

	t.Run("text and link", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.publish(meta.PlatformFacebook, sdk.Post{Format: "feed", Text: "New menu", Link: "https://cafe.example.com/menu"})
		require.NoError(t, err)
		require.Equal(t, sdk.PublishPublished, res.State)
		require.Equal(t, "https://facebook.com/"+res.ExternalID, res.URL)
		posts := b.sandbox.PublishedPosts()
		require.Len(t, posts, 1)
		require.Equal(t, "feed", posts[0].Kind)
		require.Equal(t, res.ExternalID, posts[0].ID)
		require.Equal(t, "New menu", posts[0].Message)
		require.Equal(t, "https://cafe.example.com/menu", posts[0].Link)
		require.True(t, posts[0].Published)
	})

	t.Run("one photo", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.publish(meta.PlatformFacebook, sdk.Post{Text: "Look", Media: []sdk.Media{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}})
		require.NoError(t, err)
		posts := b.sandbox.PublishedPosts()
		require.Len(t, posts, 1)
		require.Equal(t, "photo", posts[0].Kind)
		require.Equal(t, "Look", posts[0].Message)
		require.Equal(t, pageID+"_"+posts[0].ID, res.ExternalID, "the post id, not the photo id")
	})

	t.Run("several photos", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := b.publish(meta.PlatformFacebook, sdk.Post{Text: "Album", Media: []sdk.Media{
			{Type: "image", URL: "https://cdn.example.com/a.jpg"}, {Type: "image", URL: "https://cdn.example.com/b.jpg"}}})
		require.NoError(t, err)
		posts := b.sandbox.PublishedPosts()
		photos, feed := byKind(posts, "photo"), byKind(posts, "feed")
		require.Len(t, photos, 2)
		require.False(t, photos[0].Published)
		require.Len(t, feed, 1)
		require.Equal(t, []string{photos[0].ID, photos[1].ID}, feed[0].AttachedMedia)
		require.Equal(t, feed[0].ID, res.ExternalID)
	})

	t.Run("scheduled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		at := b.now.Add(2 * time.Hour)
		res, err := b.publish(meta.PlatformFacebook, sdk.Post{Text: "Later", ScheduledAt: at})
		require.NoError(t, err)
		require.Equal(t, sdk.PublishScheduled, res.State)
		posts := b.sandbox.PublishedPosts()
		require.False(t, posts[0].Published)
		require.True(t, at.Equal(posts[0].ScheduledAt))
	})

	t.Run("schedule bounds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, lead := range []time.Duration{5 * time.Minute, 31 * 24 * time.Hour, -time.Hour} {
			_, err := b.publish(meta.PlatformFacebook, sdk.Post{Text: "x", ScheduledAt: b.now.Add(lead)})
			require.ErrorIs(t, err, sdk.ErrPermanent, lead)
		}
		require.Zero(t, b.sandbox.Requests())
	})

	t.Run("non-public media is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.app.Settings = nil
		for _, u := range []string{"http://127.0.0.1/a.jpg", "http://localhost:8080/a.jpg", "https://10.1.2.3/a.jpg",
			"http://192.168.0.10/a.jpg", "ftp://cdn.example.com/a.jpg", "file:///etc/passwd", "http://[::1]/a.jpg", "http://nas/a.jpg"} {
			_, err := b.publish(meta.PlatformFacebook, sdk.Post{Media: []sdk.Media{{Type: "image", URL: u}}})
			require.ErrorIs(t, err, sdk.ErrPermanent, u)
			require.Contains(t, err.Error(), "media must be at a public URL", u)
		}
		require.Zero(t, b.sandbox.Requests())
	})
}

func TestPublishInstagram(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// publishIG publishes like the host: Publish creates the container and
	// answers processing; PublishStatus publishes it once FINISHED.
	publishIG := func(t *testing.T, b *testBundle, post sdk.Post) (*sdk.PublishResult, error) {
		t.Helper()
		before := len(byKind(b.sandbox.PublishedPosts(), "media"))
		res, err := b.publish(meta.PlatformInstagram, post)
		if err != nil {
			return nil, err
		}
		require.Equal(t, sdk.PublishProcessing, res.State)
		require.NotEmpty(t, res.ExternalID)
		require.Len(t, byKind(b.sandbox.PublishedPosts(), "media"), before, "nothing is published before the container finishes")
		status := &sdk.PublishStatusRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, Platform: meta.PlatformInstagram, ExternalID: res.ExternalID}
		for range 20 {
			st, err := b.conn.PublishStatus(ctx, status)
			if err != nil || st.State != sdk.PublishProcessing {
				return st, err
			}
		}
		return nil, errors.New("still processing after 20 checks")
	}

	t.Run("image after the container finishes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		res, err := publishIG(t, b, sdk.Post{Text: "caption", Media: []sdk.Media{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}})
		require.NoError(t, err)
		require.Equal(t, sdk.PublishPublished, res.State)
		require.Equal(t, "https://www.instagram.com/p/"+res.ExternalID+"/", res.URL)
		media := byKind(b.sandbox.PublishedPosts(), "media")
		require.Len(t, media, 1)
		require.Equal(t, res.ExternalID, media[0].ID)
		require.Equal(t, "caption", media[0].Message)
		require.Equal(t, "https://cdn.example.com/a.jpg", media[0].URL)
	})

	t.Run("carousel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := publishIG(t, b, sdk.Post{Format: "carousel", Text: "two", Media: []sdk.Media{
			{Type: "image", URL: "https://cdn.example.com/a.jpg"}, {Type: "video", URL: "https://cdn.example.com/b.mp4"}}})
		require.NoError(t, err)
		media := byKind(b.sandbox.PublishedPosts(), "media")
		require.Len(t, media, 1)
		require.Equal(t, "CAROUSEL", media[0].MediaType)
		require.Len(t, media[0].Children, 2)
	})

	t.Run("reel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := publishIG(t, b, sdk.Post{Format: "reel", Text: "watch", Media: []sdk.Media{{Type: "video", URL: "https://cdn.example.com/r.mp4"}}})
		require.NoError(t, err)
		media := byKind(b.sandbox.PublishedPosts(), "media")
		require.Len(t, media, 1)
		require.Equal(t, "REELS", media[0].MediaType)
	})

	t.Run("a long processing never blocks Publish; PublishStatus completes it", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.WithContainerPolls(8))
		res, err := b.publish(meta.PlatformInstagram, sdk.Post{Media: []sdk.Media{{Type: "video", URL: "https://cdn.example.com/r.mp4"}}})
		require.NoError(t, err)
		require.Equal(t, sdk.PublishProcessing, res.State)

		status := &sdk.PublishStatusRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, Platform: meta.PlatformInstagram, ExternalID: res.ExternalID}
		for range 8 {
			st, err := b.conn.PublishStatus(ctx, status)
			require.NoError(t, err)
			require.Equal(t, sdk.PublishProcessing, st.State)
		}
		st, err := b.conn.PublishStatus(ctx, status)
		require.NoError(t, err)
		require.Equal(t, sdk.PublishPublished, st.State)
		require.NotEqual(t, res.ExternalID, st.ExternalID, "the media id replaces the container id")

		// The media id itself reads as published, and so does the container.
		for _, id := range []string{st.ExternalID, res.ExternalID} {
			status.ExternalID = id
			st2, err := b.conn.PublishStatus(ctx, status)
			require.NoError(t, err)
			require.Equal(t, sdk.PublishPublished, st2.State)
		}
		require.Len(t, byKind(b.sandbox.PublishedPosts(), "media"), 1)
	})

	for _, failure := range []string{"ERROR", "EXPIRED"} {
		t.Run("container "+failure+" is a failed result", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sandbox.FailNextContainer(failure)
			st, err := publishIG(t, b, sdk.Post{Media: []sdk.Media{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}})
			require.NoError(t, err)
			require.Equal(t, sdk.PublishFailed, st.State)
			require.ErrorIs(t, st.Error, sdk.ErrPermanent)
			require.Empty(t, byKind(b.sandbox.PublishedPosts(), "media"))
		})
	}

	t.Run("daily cap", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.WithDailyPublishLimit(2))
		post := sdk.Post{Media: []sdk.Media{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}}
		for range 2 {
			_, err := publishIG(t, b, post)
			require.NoError(t, err)
		}
		_, err := publishIG(t, b, post)
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.Contains(t, err.Error(), "publishing limit")
	})

	t.Run("scheduling is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.publish(meta.PlatformInstagram, sdk.Post{ScheduledAt: b.now.Add(time.Hour), Media: []sdk.Media{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}})
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.Contains(t, err.Error(), "schedule in Neksio instead")
	})

	t.Run("non-public media is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.app.Settings = map[string]string{}
		_, err := b.publish(meta.PlatformInstagram, sdk.Post{Media: []sdk.Media{{Type: "image", URL: "http://127.0.0.1:9/a.jpg"}}})
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.Contains(t, err.Error(), "media must be at a public URL")
	})

	t.Run("no media", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.publish(meta.PlatformInstagram, sdk.Post{Text: "words only"})
		require.ErrorIs(t, err, sdk.ErrPermanent)
	})
}

func TestPublishStatusFacebook(t *testing.T) {
	t.Parallel()
	st, err := meta.New().PublishStatus(context.Background(), &sdk.PublishStatusRequest{Platform: meta.PlatformFacebook, ExternalID: "1_2"})
	require.NoError(t, err)
	require.Equal(t, &sdk.PublishResult{ExternalID: "1_2", State: sdk.PublishPublished, URL: "https://facebook.com/1_2"}, st)
}

// An interrupted publish is looked up by text since the time it started:
// found once published, not found before (safe to publish), never matched
// to an older post or another text.
func TestPublishStatusLookup(t *testing.T) {
	t.Parallel()
	for _, platform := range []string{meta.PlatformFacebook, meta.PlatformInstagram} {
		t.Run(platform, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			creds, account := b.fbCreds(), pageID
			post := sdk.Post{Text: "Autumn menu is here"}
			if platform == meta.PlatformInstagram {
				creds, account = b.igCreds(), igID
				post.Media = []sdk.Media{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}
			}
			lookup := func(p sdk.Post, since time.Time) (*sdk.PublishResult, error) {
				return b.conn.PublishStatus(context.Background(), &sdk.PublishStatusRequest{App: b.app, Credentials: creds,
					AccountID: account, Platform: platform, IdempotencyKey: "ptg_1", Post: &p, Since: since})
			}
			since := time.Now().Add(-time.Minute)
			res, err := lookup(post, since)
			require.NoError(t, err)
			require.Equal(t, sdk.PublishNotFound, res.State)

			pub, err := b.publish(platform, post)
			require.NoError(t, err)
			for pub.State == sdk.PublishProcessing { // Instagram: the container is published by PublishStatus
				pub, err = b.conn.PublishStatus(context.Background(), &sdk.PublishStatusRequest{App: b.app, Credentials: creds,
					AccountID: account, Platform: platform, ExternalID: pub.ExternalID})
				require.NoError(t, err)
			}
			res, err = lookup(post, since)
			require.NoError(t, err)
			require.Equal(t, sdk.PublishPublished, res.State)
			require.Equal(t, pub.ExternalID, res.ExternalID)

			other := post
			other.Text = "Winter menu"
			res, err = lookup(other, since)
			require.NoError(t, err)
			require.Equal(t, sdk.PublishNotFound, res.State)

			_, err = lookup(sdk.Post{}, since)
			require.Error(t, err, "a post without text cannot be looked up: inconclusive, not not-found")
		})
	}
}
