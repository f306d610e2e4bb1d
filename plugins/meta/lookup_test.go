package meta_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func TestLookupContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	l := sdktest.Connect(t, b.conn).(sdk.Lookuper)
	b.sandbox.AddProfile(psid, sandbox.Profile{FirstName: "Ann", LastName: "Lee", ProfilePic: "https://cdn.example.com/ann.jpg"})
	b.sandbox.AddProfile(igsid, sandbox.Profile{Instagram: true, Name: "Bob B", Username: "bob", ProfilePic: "https://cdn.example.com/bob.jpg"})

	c, err := l.LookupContact(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, Platform: "facebook", ID: psid})
	require.NoError(t, err)
	require.Equal(t, sdk.Contact{ExternalID: psid, Name: "Ann Lee", AvatarURL: "https://cdn.example.com/ann.jpg"}, *c)

	c, err = l.LookupContact(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, Platform: "instagram", ID: igsid})
	require.NoError(t, err)
	require.Equal(t, sdk.Contact{ExternalID: igsid, Name: "Bob B", Username: "bob", AvatarURL: "https://cdn.example.com/bob.jpg"}, *c)

	// The platform comes from the credentials when the request has none.
	c, err = l.LookupContact(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, ID: igsid})
	require.NoError(t, err)
	require.Equal(t, "bob", c.Username)

	// Someone who never wrote is unknown: a clear permanent error.
	_, err = l.LookupContact(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, ID: "404404"})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "does not exist")
	_, err = l.LookupContact(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

func TestLookupThread(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	l := sdktest.Connect(t, b.conn).(sdk.Lookuper)
	post := pageID + "_42"
	b.sandbox.AddPost(post, sandbox.Post{Message: "New menu!", PermalinkURL: "https://www.facebook.com/cafe/posts/42", FullPicture: "https://cdn.example.com/menu.jpg"})
	b.sandbox.AddPost(pageID+"_43", sandbox.Post{Story: "Cafe updated their cover photo.", PermalinkURL: "https://www.facebook.com/cafe/posts/43"})
	b.sandbox.AddMedia("1799", sandbox.Media{Caption: "Latte art", Permalink: "https://www.instagram.com/p/abc/", MediaType: "IMAGE", MediaURL: "https://cdn.example.com/latte.jpg"})
	b.sandbox.AddMedia("1800", sandbox.Media{Caption: "Reel", Permalink: "https://www.instagram.com/reel/x/", MediaType: "VIDEO",
		MediaURL: "https://cdn.example.com/reel.mp4", ThumbnailURL: "https://cdn.example.com/reel.jpg"})

	th, err := l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, Platform: "facebook", ID: post, ThreadKind: sdk.ThreadComment})
	require.NoError(t, err)
	require.Equal(t, sdk.ThreadInfo{ID: post, Subject: "New menu!", URL: "https://www.facebook.com/cafe/posts/42", ThumbnailURL: "https://cdn.example.com/menu.jpg"}, *th)

	th, err = l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, ID: pageID + "_43", ThreadKind: sdk.ThreadComment})
	require.NoError(t, err)
	require.Equal(t, "Cafe updated their cover photo.", th.Subject, "a post without text is named by its story")

	th, err = l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, Platform: "instagram", ID: "1799", ThreadKind: sdk.ThreadComment})
	require.NoError(t, err)
	require.Equal(t, sdk.ThreadInfo{ID: "1799", Subject: "Latte art", URL: "https://www.instagram.com/p/abc/", ThumbnailURL: "https://cdn.example.com/latte.jpg"}, *th)

	th, err = l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.igCreds(), AccountID: igID, Platform: "instagram", ID: "1800", ThreadKind: sdk.ThreadComment})
	require.NoError(t, err)
	require.Equal(t, "https://cdn.example.com/reel.jpg", th.ThumbnailURL, "a video's thumbnail, not the video")

	_, err = l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, ID: psid, ThreadKind: sdk.ThreadDirect})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: b.fbCreds(), AccountID: pageID, ID: "unknown_post", ThreadKind: sdk.ThreadComment})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = l.LookupThread(ctx, &sdk.LookupRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: "nope"}, AccountID: pageID, ID: post, ThreadKind: sdk.ThreadComment})
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}
