package google_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/google/sandbox"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

const photo = "https://cdn.example.com/latte.jpg"

func (b *bundle) publish(t *testing.T, post sdk.Post) (*sdk.PublishResult, error) {
	t.Helper()
	return b.conn.Publish(ctx(t), &sdk.PublishRequest{App: b.app, Credentials: b.creds, AccountID: location, Platform: google.Platform, Post: post})
}

func (b *bundle) status(t *testing.T, id string) *sdk.PublishResult {
	t.Helper()
	res, err := b.conn.PublishStatus(ctx(t), &sdk.PublishStatusRequest{App: b.app, Credentials: b.creds, AccountID: location, Platform: google.Platform, ExternalID: id})
	require.NoError(t, err)
	return res
}

func TestPublishStandardWithPhotoAndButton(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.publish(t, sdk.Post{Format: "standard", Text: "New autumn menu", Media: []sdk.Media{{Type: "image", URL: photo}},
		Options: map[string]string{google.OptCTAType: "order", google.OptCTAURL: "https://cafe.example.com/order", google.OptLanguageCode: "fr"}})
	require.NoError(t, err)
	require.Equal(t, sdk.PublishProcessing, res.State, "Google reviews a post before it goes live")
	require.True(t, strings.HasPrefix(res.ExternalID, location+"/localPosts/"), res.ExternalID)
	require.NotEmpty(t, res.URL)

	posts := b.sb.Posts()
	require.Len(t, posts, 1)
	p := posts[0]
	require.Equal(t, res.ExternalID, p.Name)
	require.Equal(t, "STANDARD", p.TopicType)
	require.Equal(t, "New autumn menu", p.Summary)
	require.Equal(t, "fr", p.LanguageCode)
	require.Equal(t, &sandbox.CallToAction{ActionType: "ORDER", URL: "https://cafe.example.com/order"}, p.CallToAction)
	require.Equal(t, []sandbox.MediaItem{{MediaFormat: "PHOTO", SourceURL: photo}}, p.Media)
	require.Nil(t, p.Event)
	require.Nil(t, p.Offer)
}

func TestPublishLinkBecomesLearnMoreAndCallTakesNoURL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.publish(t, sdk.Post{Text: "Read our story", Link: "https://cafe.example.com/story"})
	require.NoError(t, err)
	_, err = b.publish(t, sdk.Post{Text: "Call us", Options: map[string]string{google.OptCTAType: "CALL"}})
	require.NoError(t, err)
	posts := b.sb.Posts()
	require.Equal(t, &sandbox.CallToAction{ActionType: "LEARN_MORE", URL: "https://cafe.example.com/story"}, posts[0].CallToAction)
	require.Equal(t, "en", posts[0].LanguageCode)
	require.Equal(t, &sandbox.CallToAction{ActionType: "CALL"}, posts[1].CallToAction)
}

func TestPublishEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.publish(t, sdk.Post{Format: "event", Text: "Live jazz on the terrace", Media: []sdk.Media{{URL: photo}},
		Options: map[string]string{google.OptEventTitle: "Jazz night", google.OptEventStart: "2026-12-05T19:30", google.OptEventEnd: "2026-12-05 23:00:00",
			google.OptCTAType: "BOOK", google.OptCTAURL: "https://cafe.example.com/book"}})
	require.NoError(t, err)
	p := b.sb.Posts()[0]
	require.Equal(t, "EVENT", p.TopicType)
	require.Equal(t, &sandbox.PostEvent{Title: "Jazz night", Schedule: &sandbox.TimeInterval{
		StartDate: &sandbox.Date{Year: 2026, Month: 12, Day: 5}, StartTime: &sandbox.TimeOfDay{Hours: 19, Minutes: 30},
		EndDate: &sandbox.Date{Year: 2026, Month: 12, Day: 5}, EndTime: &sandbox.TimeOfDay{Hours: 23},
	}}, p.Event)
	require.Equal(t, "BOOK", p.CallToAction.ActionType)

	// Whole days: dates alone.
	_, err = b.publish(t, sdk.Post{Format: "event", Text: "Market weekend",
		Options: map[string]string{google.OptEventTitle: "Market", google.OptEventStart: "2026-12-12", google.OptEventEnd: "2026-12-13"}})
	require.NoError(t, err)
	p = b.sb.Posts()[1]
	require.Nil(t, p.Event.Schedule.StartTime)
	require.Equal(t, &sandbox.Date{Year: 2026, Month: 12, Day: 13}, p.Event.Schedule.EndDate)
}

func TestPublishOffer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.publish(t, sdk.Post{Format: "offer", Text: "Two coffees for one", Link: "https://cafe.example.com/redeem",
		Media: []sdk.Media{{Type: "image", URL: photo}},
		Options: map[string]string{google.OptEventTitle: "2 for 1", google.OptEventStart: "2026-12-01", google.OptEventEnd: "2026-12-31",
			google.OptOfferCoupon: "TWOFORONE", google.OptOfferTerms: "One per customer"}})
	require.NoError(t, err)
	p := b.sb.Posts()[0]
	require.Equal(t, "OFFER", p.TopicType)
	require.Equal(t, &sandbox.PostOffer{CouponCode: "TWOFORONE", RedeemOnlineURL: "https://cafe.example.com/redeem", TermsConditions: "One per customer"}, p.Offer)
	require.Equal(t, "2 for 1", p.Event.Title)
	require.Nil(t, p.CallToAction, "Google ignores an offer's button: its link is the redeem URL")
	require.Len(t, p.Media, 1)
}

func TestPublishStatusProcessingThenLive(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithPostPolls(1))
	res, err := b.publish(t, sdk.Post{Text: "Hello"})
	require.NoError(t, err)
	require.Equal(t, sdk.PublishProcessing, res.State)
	require.Equal(t, sdk.PublishProcessing, b.status(t, res.ExternalID).State)
	live := b.status(t, res.ExternalID)
	require.Equal(t, sdk.PublishPublished, live.State)
	require.Equal(t, res.ExternalID, live.ExternalID)
	require.NotEmpty(t, live.URL)
}

func TestPublishStatusRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sb.RejectNextPost()
	res, err := b.publish(t, sdk.Post{Text: "Cheapest coffee in town, guaranteed!!!"})
	require.NoError(t, err)
	st := b.status(t, res.ExternalID)
	require.Equal(t, sdk.PublishFailed, st.State)
	require.NotNil(t, st.Error)
	require.Equal(t, sdk.ClassPermanent, st.Error.Class)
	require.Equal(t, "REJECTED", st.Error.Code)

	// A post rejected on creation fails at once.
	res2, err := b.publish(t, sdk.Post{Text: "another"})
	require.NoError(t, err)
	require.NoError(t, b.sb.SetPostState(res2.ExternalID, "REJECTED"))
	require.Equal(t, sdk.PublishFailed, b.status(t, res2.ExternalID).State)

	for _, bad := range []string{"accounts/1/locations/9/localPosts/1", "accounts/1/locations/2/reviews/1", "junk"} {
		_, err := b.conn.PublishStatus(ctx(t), &sdk.PublishStatusRequest{App: b.app, Credentials: b.creds, AccountID: location, ExternalID: bad})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	}
	gone := b.status(t, location+"/localPosts/404")
	require.Equal(t, sdk.PublishFailed, gone.State)
}

func TestPublishIdempotentLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := sdk.Post{Format: "event", Text: "Jazz",
		Options: map[string]string{google.OptEventTitle: "Jazz night", google.OptEventStart: "2026-12-05", google.OptEventEnd: "2026-12-05"}}
	lookup := func(p *sdk.Post, since time.Time) (*sdk.PublishResult, error) {
		return b.conn.PublishStatus(ctx(t), &sdk.PublishStatusRequest{App: b.app, Credentials: b.creds, AccountID: location,
			Platform: google.Platform, IdempotencyKey: "post-42", Post: p, Since: since})
	}

	res, err := lookup(&post, b.now.Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, sdk.PublishNotFound, res.State, "nothing published yet: publishing is safe")

	_, err = b.publish(t, sdk.Post{Text: "Something else"})
	require.NoError(t, err)
	published, err := b.publish(t, post)
	require.NoError(t, err)

	res, err = lookup(&post, b.now.Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, published.ExternalID, res.ExternalID)
	require.Equal(t, sdk.PublishPublished, res.State)

	other := post
	other.Options = map[string]string{google.OptEventTitle: "Blues night", google.OptEventStart: "2026-12-05", google.OptEventEnd: "2026-12-05"}
	res, err = lookup(&other, b.now.Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, sdk.PublishNotFound, res.State, "another event title is another post")

	res, err = lookup(&post, b.now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, sdk.PublishNotFound, res.State, "a post older than Since is not this publication")

	_, err = lookup(nil, b.now)
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
}

func TestPublishRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dated := func(format string, extra map[string]string) sdk.Post {
		o := map[string]string{google.OptEventTitle: "T", google.OptEventStart: "2026-12-05", google.OptEventEnd: "2026-12-06"}
		for k, v := range extra {
			o[k] = v
		}
		return sdk.Post{Format: format, Text: "x", Options: o}
	}
	for name, post := range map[string]sdk.Post{
		"unknown format":           {Format: "reel", Text: "x"},
		"too long":                 {Text: strings.Repeat("é", google.MaxPostLength+1)},
		"standard without text":    {Media: []sdk.Media{{URL: photo}}},
		"two photos":               {Text: "x", Media: []sdk.Media{{URL: photo}, {URL: photo}}},
		"a video":                  {Text: "x", Media: []sdk.Media{{Type: "video", URL: "https://cdn.example.com/a.mp4"}}},
		"photo not http":           {Text: "x", Media: []sdk.Media{{URL: "ftp://cdn.example.com/a.jpg"}}},
		"scheduled":                {Text: "x", ScheduledAt: time.Now().Add(time.Hour)},
		"unknown option":           {Text: "x", Options: map[string]string{"hashtags": "#a"}},
		"event option on standard": {Text: "x", Options: map[string]string{google.OptEventTitle: "T"}},
		"unknown button":           {Text: "x", Options: map[string]string{google.OptCTAType: "DANCE", google.OptCTAURL: "https://x.example.com"}},
		"CALL with a URL":          {Text: "x", Options: map[string]string{google.OptCTAType: "CALL", google.OptCTAURL: "https://x.example.com"}},
		"button without URL":       {Text: "x", Options: map[string]string{google.OptCTAType: "BOOK"}},
		"button URL not http":      {Text: "x", Options: map[string]string{google.OptCTAType: "BOOK", google.OptCTAURL: "javascript:alert(1)"}},
		"event without title":      {Format: "event", Text: "x", Options: map[string]string{google.OptEventStart: "2026-12-05", google.OptEventEnd: "2026-12-06"}},
		"event without end":        {Format: "event", Text: "x", Options: map[string]string{google.OptEventTitle: "T", google.OptEventStart: "2026-12-05"}},
		"event with an offset":     dated("event", map[string]string{google.OptEventStart: "2026-12-05T10:00:00+02:00"}),
		"event ending first":       dated("event", map[string]string{google.OptEventStart: "2026-12-07"}),
		"offer with a button":      dated("offer", map[string]string{google.OptCTAType: "SHOP"}),
		"coupon on an event":       dated("event", map[string]string{google.OptOfferCoupon: "X"}),
		"offer redeem not http":    dated("offer", map[string]string{google.OptOfferRedeem: "mailto:a@b.c"}),
	} {
		_, err := b.publish(t, post)
		require.Error(t, err, name)
		require.Equal(t, sdk.ClassPermanent, sdk.ClassOf(err), "%s: %v", name, err)
		verr := b.conn.(sdk.PostValidator).ValidatePost(ctx(t), &sdk.PublishRequest{App: b.app, AccountID: location, Post: post})
		require.Equal(t, sdk.ClassPermanent, sdk.ClassOf(verr), "ValidatePost, %s: %v", name, verr)
	}
	require.Empty(t, b.sb.Posts(), "nothing refused reaches Google")
	require.NoError(t, b.conn.(sdk.PostValidator).ValidatePost(ctx(t), &sdk.PublishRequest{App: b.app, AccountID: location, Post: dated("offer", nil)}))
	require.NoError(t, b.conn.(sdk.PostValidator).ValidatePost(ctx(t), &sdk.PublishRequest{App: b.app, Post: dated("event", nil)}),
		"without a target, the post alone is checked")
	err := b.conn.(sdk.PostValidator).ValidatePost(ctx(t), &sdk.PublishRequest{App: b.app, AccountID: "locations/2", Post: dated("event", nil)})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Empty(t, b.sb.Posts(), "ValidatePost publishes nothing")
}

func TestPublishPrivatePhotoURLs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.app.Settings = map[string]string{} // production: Google must be able to fetch the photo
	for _, u := range []string{"http://localhost/a.jpg", "http://127.0.0.1:8080/a.jpg", "http://10.1.2.3/a.jpg", "http://intranet/a.jpg", "http://cdn.internal/a.jpg"} {
		_, err := b.publish(t, sdk.Post{Text: "x", Media: []sdk.Media{{URL: u}}})
		sdktest.RequireClass(t, sdk.ClassPermanent, err)
	}
	_, err := b.publish(t, sdk.Post{Text: "x", Media: []sdk.Media{{URL: photo}}})
	require.NoError(t, err)
}

func TestDescribeRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d, err := b.conn.Describe(ctx(t))
	require.NoError(t, err)
	r := d.RulesFor(google.Platform)
	require.NotNil(t, r)
	require.Equal(t, 4096, r.MaxReplyBytes)
	require.Empty(t, r.ReplyWindows, "a review can be answered at any time")
	require.Empty(t, r.Attachments, "replies are text only")
	for _, format := range []string{"standard", "event", "offer"} {
		f, ok := r.Format(format)
		require.True(t, ok, format)
		require.Equal(t, 1500, f.MaxTextLength)
		require.Equal(t, 1, f.MaxMedia)
		img, ok := sdk.MediaRuleFor(f.Media, "image")
		require.True(t, ok)
		require.True(t, img.Accepts("image/png"))
		require.False(t, img.Accepts("image/gif"))
		required := map[string]bool{}
		for _, o := range f.Options {
			required[o.Name] = o.Required
		}
		require.Equal(t, format != "standard", required[google.OptEventStart], format)
		_, hasCTA := required[google.OptCTAType]
		require.Equal(t, format != "offer", hasCTA, format)
		_, hasCoupon := required[google.OptOfferCoupon]
		require.Equal(t, format == "offer", hasCoupon, format)
	}
}
