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

const videoURL = "http://127.0.0.1:9/media/signed/clip.mp4?sig=abc"

func (b *bundle) post(options map[string]string) *sdk.PublishRequest {
	return &sdk.PublishRequest{App: b.app, Credentials: b.creds(), AccountID: business, Platform: tiktok.Platform,
		IdempotencyKey: "post-1", Post: sdk.Post{Format: "video", Text: "Morning brew #coffee",
			Media: []sdk.Media{{Type: "video", URL: videoURL}}, Options: options}}
}

func (b *bundle) status(id string) *sdk.PublishStatusRequest {
	return &sdk.PublishStatusRequest{App: b.app, Credentials: b.creds(), AccountID: business, Platform: tiktok.Platform, ExternalID: id}
}

func TestPublish(t *testing.T) {
	t.Parallel()

	t.Run("a private post, polled to PUBLISH_COMPLETE", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := background(t)
		res, err := b.conn.Publish(ctx, b.post(nil))
		require.NoError(t, err)
		require.Equal(t, sdk.PublishProcessing, res.State)
		require.NotEmpty(t, res.ExternalID)

		pubs := b.sb.Publications()
		require.Len(t, pubs, 1)
		require.Equal(t, res.ExternalID, pubs[0].PublishID)
		require.Equal(t, "Morning brew #coffee", pubs[0].Title)
		require.Equal(t, tiktok.PrivacySelfOnly, pubs[0].PrivacyLevel, "SELF_ONLY unless asked otherwise")
		require.Equal(t, videoURL, pubs[0].VideoURL)

		st, err := b.conn.PublishStatus(ctx, b.status(res.ExternalID))
		require.NoError(t, err)
		require.Equal(t, &sdk.PublishResult{ExternalID: res.ExternalID, State: sdk.PublishProcessing}, st)
		st, err = b.conn.PublishStatus(ctx, b.status(res.ExternalID))
		require.NoError(t, err)
		// A private post has no public post id, hence no URL.
		require.Equal(t, &sdk.PublishResult{ExternalID: res.ExternalID, State: sdk.PublishPublished}, st)
	})

	t.Run("a public post from an audited app gets its URL and webhooks", func(t *testing.T) {
		t.Parallel()
		hooks := make(chan []byte, 4)
		b := setup(t, sandbox.WithAudited(true), sandbox.WithWebhookSink(func(body []byte) { hooks <- body })).audited()
		ctx := background(t)
		res, err := b.conn.Publish(ctx, b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyPublic,
			tiktok.OptDisableDuet: "true", tiktok.OptBrandOrganic: "true", tiktok.OptCoverTimestamp: "1500"}))
		require.NoError(t, err)
		pub := b.sb.Publications()[0]
		require.Equal(t, tiktok.PrivacyPublic, pub.PrivacyLevel)
		require.True(t, pub.DisableDuet)
		require.False(t, pub.DisableComment)
		require.True(t, pub.BrandOrganic)

		require.NoError(t, b.sb.CompletePublish(res.ExternalID))
		b.sb.Flush()
		st, err := b.conn.PublishStatus(ctx, b.status(res.ExternalID))
		require.NoError(t, err)
		pub = b.sb.Publications()[0]
		require.NotEmpty(t, pub.PostID)
		require.Equal(t, &sdk.PublishResult{ExternalID: res.ExternalID, State: sdk.PublishPublished,
			URL: "https://www.tiktok.com/@lisboncoffee/video/" + pub.PostID}, st)

		// TikTok's own notices say the same.
		for range 2 {
			body := <-hooks
			req := signedAt(body, time.Now())
			req.ReceivedAt = time.Now()
			got, err := b.conn.HandleWebhook(ctx, req)
			require.NoError(t, err)
			require.Len(t, got.Events, 1)
			require.Equal(t, &sdk.PublishResult{ExternalID: res.ExternalID, State: sdk.PublishPublished}, got.Events[0].Publish)
		}
	})

	t.Run("the stored username spares the creator_info call", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.WithAudited(true)).audited()
		ctx := background(t)
		res, err := b.conn.Publish(ctx, b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyPublic}))
		require.NoError(t, err)
		require.NoError(t, b.sb.CompletePublish(res.ExternalID))
		req := b.status(res.ExternalID)
		req.Credentials.Extra = map[string]string{tiktok.ExtraUsername: "stored.name"}
		before := b.sb.Requests()
		st, err := b.conn.PublishStatus(ctx, req)
		require.NoError(t, err)
		require.Equal(t, 1, b.sb.Requests()-before)
		require.True(t, strings.HasPrefix(st.URL, "https://www.tiktok.com/@stored.name/video/"), st.URL)
	})

	for reason, class := range map[string]sdk.ErrorClass{
		"video_pull_failed":     sdk.ClassRetryable,
		"duration_check_failed": sdk.ClassPermanent,
		"auth_removed":          sdk.ClassAuthRevoked,
		"something_new":         sdk.ClassPermanent,
	} {
		t.Run("FAILED with "+reason, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.WithStatusPolls(0))
			b.sb.FailNextPublish(reason)
			res, err := b.conn.Publish(background(t), b.post(nil))
			require.NoError(t, err)
			st, err := b.conn.PublishStatus(background(t), b.status(res.ExternalID))
			require.NoError(t, err)
			require.Equal(t, sdk.PublishFailed, st.State)
			require.Equal(t, res.ExternalID, st.ExternalID)
			require.NotNil(t, st.Error)
			require.Equal(t, class, st.Error.Class)
			require.Equal(t, reason, st.Error.Code)
		})
	}

	t.Run("an unaudited app's public post is refused before calling", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, level := range []string{tiktok.PrivacyPublic, tiktok.PrivacyFriends, tiktok.PrivacyFollowers} {
			_, err := b.conn.Publish(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: level}))
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
			require.Contains(t, err.Error(), "SELF_ONLY")
			require.Contains(t, err.Error(), "unaudited_client_can_only_post_to_private_accounts")
		}
		require.Zero(t, b.sb.Requests())
		require.Empty(t, b.sb.Publications())
	})

	t.Run("TikTok's own refusal of an unaudited public post is permanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t).audited() // configured audited, but TikTok disagrees
		_, err := b.conn.Publish(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyPublic}))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "unaudited")
		require.Empty(t, b.sb.Publications())
	})

	t.Run("creator_info decides the privacy levels and interactions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.WithAudited(true)).audited()
		b.sb.AddAccount(sandbox.Account{OpenID: business, Username: "lisboncoffee", CommentDisabled: true, StitchDisabled: true,
			PrivacyLevelOptions: []string{tiktok.PrivacyFollowers, tiktok.PrivacyFriends, tiktok.PrivacySelfOnly}})
		_, err := b.conn.Publish(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyPublic}))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "privacy_level_option_mismatch")
		require.Empty(t, b.sb.Publications())

		_, err = b.conn.Publish(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyFollowers, tiktok.OptDisableComment: "false"}))
		require.NoError(t, err)
		pub := b.sb.Publications()[0]
		require.True(t, pub.DisableComment, "the creator turned comments off")
		require.True(t, pub.DisableStitch)
		require.False(t, pub.DisableDuet)
	})

	refused := map[string]func(*sdk.PublishRequest){
		"a photo post":         func(r *sdk.PublishRequest) { r.Post.Format = "photo" },
		"two videos":           func(r *sdk.PublishRequest) { r.Post.Media = append(r.Post.Media, r.Post.Media[0]) },
		"no video":             func(r *sdk.PublishRequest) { r.Post.Media = nil },
		"an image":             func(r *sdk.PublishRequest) { r.Post.Media[0].Type = "image" },
		"a scheduled post":     func(r *sdk.PublishRequest) { r.Post.ScheduledAt = time.Now().Add(time.Hour) },
		"a 2201-unit caption":  func(r *sdk.PublishRequest) { r.Post.Text = strings.Repeat("☕", 2200) + "🙂" },
		"an unknown privacy":   func(r *sdk.PublishRequest) { r.Post.Options = map[string]string{tiktok.OptPrivacyLevel: "FRIENDS"} },
		"a non-boolean option": func(r *sdk.PublishRequest) { r.Post.Options = map[string]string{tiktok.OptDisableDuet: "maybe"} },
		"a negative cover":     func(r *sdk.PublishRequest) { r.Post.Options = map[string]string{tiktok.OptCoverTimestamp: "-1"} },
		"private branded post": func(r *sdk.PublishRequest) { r.Post.Options = map[string]string{tiktok.OptBrandContent: "true"} },
		"a file URL":           func(r *sdk.PublishRequest) { r.Post.Media[0].URL = "file:///tmp/clip.mp4" },
		"a loopback URL": func(r *sdk.PublishRequest) {
			r.App.Settings = map[string]string{tiktok.SettingClientKey: clientKey}
		},
	}
	for name, mutate := range refused {
		t.Run("refuses "+name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := b.post(nil)
			mutate(req)
			_, err := b.conn.Publish(background(t), req)
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
			err = b.conn.(sdk.PostValidator).ValidatePost(background(t), req)
			sdktest.RequireClass(t, sdk.ClassPermanent, err)
			require.Zero(t, b.sb.Requests())
		})
	}

	t.Run("a caption of exactly 2200 units goes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := b.post(nil)
		req.Post.Text = strings.Repeat("🙂", 1100)
		_, err := b.conn.Publish(background(t), req)
		require.NoError(t, err)
	})

	t.Run("the title stands in for an empty text", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := b.post(nil)
		req.Post.Text, req.Post.Title = "", "Just a title"
		_, err := b.conn.Publish(background(t), req)
		require.NoError(t, err)
		require.Equal(t, "Just a title", b.sb.Publications()[0].Title)
	})

	platformErrors := map[string]struct {
		f     sandbox.Failure
		class sdk.ErrorClass
	}{
		"rate limit":        {sandbox.Failure{API: "open", HTTPStatus: 429, Code: "rate_limit_exceeded", RetryAfter: time.Minute}, sdk.ClassRetryable},
		"internal error":    {sandbox.Failure{API: "open", HTTPStatus: 500, Code: "internal_error"}, sdk.ClassRetryable},
		"too many posts":    {sandbox.Failure{API: "open", HTTPStatus: 403, Code: "spam_risk_too_many_posts"}, sdk.ClassPermanent},
		"unverified domain": {sandbox.Failure{API: "open", HTTPStatus: 403, Code: "url_ownership_unverified"}, sdk.ClassPermanent},
		"scope withdrawn":   {sandbox.Failure{API: "open", HTTPStatus: 401, Code: "scope_not_authorized"}, sdk.ClassAuthRevoked},
		"a proxy's 502":     {sandbox.Failure{API: "open", HTTPStatus: 502}, sdk.ClassRetryable},
	}
	for name, tc := range platformErrors {
		t.Run("classifies "+name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.sb.FailNext(1, tc.f)
			_, err := b.conn.Publish(background(t), b.post(nil))
			sdktest.RequireClass(t, tc.class, err)
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.f.Code, e.Code)
			require.Equal(t, tc.f.RetryAfter, e.RetryAfter)
			require.Empty(t, b.sb.Publications())
		})
	}

	t.Run("a revoked authorization needs reconnecting", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.sb.Deauthorize(business, 1)
		_, err := b.conn.Publish(background(t), b.post(nil))
		sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
	})

	t.Run("an unknown publish_id is permanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.PublishStatus(background(t), b.status("v_pub_url~v2.1"))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "invalid_publish_id")
	})
}

func TestValidatePost(t *testing.T) {
	t.Parallel()
	ctx := func(t *testing.T) (*bundle, sdk.PostValidator) {
		b := setup(t)
		return b, b.conn.(sdk.PostValidator)
	}

	t.Run("unaudited: only SELF_ONLY", func(t *testing.T) {
		t.Parallel()
		b, v := ctx(t)
		require.NoError(t, v.ValidatePost(background(t), b.post(nil)))
		require.NoError(t, v.ValidatePost(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: "self_only"})))
		err := v.ValidatePost(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyPublic}))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "NEKSIO_TIKTOK_AUDITED")
		require.Empty(t, b.sb.Publications(), "validating publishes nothing")
	})

	t.Run("audited: the account's options", func(t *testing.T) {
		t.Parallel()
		b, v := ctx(t)
		b.audited()
		b.sb.AddAccount(sandbox.Account{OpenID: business, PrivacyLevelOptions: []string{tiktok.PrivacyFollowers, tiktok.PrivacySelfOnly}})
		require.NoError(t, v.ValidatePost(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyFollowers})))
		err := v.ValidatePost(background(t), b.post(map[string]string{tiktok.OptPrivacyLevel: tiktok.PrivacyPublic}))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), tiktok.PrivacyFollowers)
		require.Equal(t, 2, b.sb.Requests(), "one creator_info call each")
	})

	t.Run("without a token only the static rules", func(t *testing.T) {
		t.Parallel()
		b, v := ctx(t)
		req := b.post(nil)
		req.Credentials = sdk.Credentials{}
		require.NoError(t, v.ValidatePost(background(t), req))
		require.Zero(t, b.sb.Requests())
	})
}

func TestPublishStatusLookup(t *testing.T) {
	t.Parallel()

	lookup := func(b *bundle, text string, since time.Time) *sdk.PublishStatusRequest {
		post := b.post(nil).Post
		post.Text = text
		return &sdk.PublishStatusRequest{App: b.app, Credentials: b.creds(), AccountID: business, Platform: tiktok.Platform,
			IdempotencyKey: "post-1", Post: &post, Since: since}
	}

	t.Run("finds the published video by its caption", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		since := b.clock.now()
		res, err := b.conn.Publish(background(t), b.post(nil))
		require.NoError(t, err)
		require.NoError(t, b.sb.CompletePublish(res.ExternalID))
		for i := range 25 { // the video is on the second page
			_, err := b.sb.AddVideo(business, "other "+string(rune('a'+i)))
			require.NoError(t, err)
		}
		videoID := b.sb.Publications()[0].VideoID
		st, err := b.conn.PublishStatus(background(t), lookup(b, "Morning brew #coffee", since))
		require.NoError(t, err)
		require.Equal(t, &sdk.PublishResult{ExternalID: videoID, State: sdk.PublishPublished,
			URL: "https://www.tiktok.com/@lisboncoffee/video/" + videoID}, st)
	})

	t.Run("never claims not found: absence proves nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.sb.AddVideo(business, "something else")
		require.NoError(t, err)
		_, err = b.conn.PublishStatus(background(t), lookup(b, "Morning brew #coffee", b.clock.now()))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "lookup_inconclusive")
	})

	t.Run("a video older than Since is not the one", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.sb.AddVideo(business, "Morning brew #coffee")
		require.NoError(t, err)
		b.clock.advance(3 * time.Hour)
		_, err = b.conn.PublishStatus(background(t), lookup(b, "Morning brew #coffee", b.clock.now()))
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
		require.Contains(t, err.Error(), "lookup_inconclusive")
	})

	t.Run("needs a post to look for", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		req := lookup(b, "x", time.Time{})
		req.Post = nil
		_, err := b.conn.PublishStatus(background(t), req)
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	})
}
