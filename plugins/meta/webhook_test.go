package meta_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/sdk"
)

const (
	appSecret = "app-secret"
	pageID    = "111111111111111"
	psid      = "2222222222222222"
	igID      = "17841400000000001"
	igsid     = "5555555555555555"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	return b
}

func signedRequest(body []byte) *sdk.WebhookRequest {
	return &sdk.WebhookRequest{
		App:    sdk.App{ClientSecret: appSecret},
		Method: http.MethodPost,
		Path:   "/webhooks/meta",
		Header: map[string][]string{"x-hub-signature-256": {sdk.HubSignature256(appSecret, body)}},
		Body:   body,
	}
}

func parse(t *testing.T, name string) []*sdk.Event {
	t.Helper()
	res, err := meta.New().HandleWebhook(context.Background(), signedRequest(fixture(t, name)))
	require.NoError(t, err)
	return res.Events
}

func oneMessage(t *testing.T, name string) (*sdk.Event, *sdk.Message) {
	t.Helper()
	evs := parse(t, name)
	require.Len(t, evs, 1)
	require.Equal(t, sdk.EventMessage, evs[0].Kind)
	require.NotNil(t, evs[0].Message)
	return evs[0], evs[0].Message
}

func TestHandleWebhookMessenger(t *testing.T) {
	t.Parallel()

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		ev, m := oneMessage(t, "messenger_text")
		require.Equal(t, meta.PlatformFacebook, ev.Platform)
		require.Equal(t, pageID, ev.AccountID)
		require.Equal(t, time.UnixMilli(1458692752478).UTC(), ev.OccurredAt)
		require.Equal(t, "m_text1", m.ExternalID)
		require.Equal(t, sdk.ActionCreated, m.Action)
		require.Equal(t, sdk.Inbound, m.Direction)
		require.Equal(t, sdk.ThreadDirect, m.ThreadKind)
		require.Equal(t, psid, m.ThreadID)
		require.Equal(t, psid, m.Contact.ExternalID)
		require.Equal(t, "text", m.Type)
		require.Equal(t, "hello", m.Text)
		require.NotContains(t, m.Metadata, "standby")
	})

	t.Run("every attachment type", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "messenger_attachments")
		want := []string{"image", "video", "audio", "file", "sticker", "reel", "ig_reel", "post", "ig_post", "share", "story_mention", "fallback"}
		require.Len(t, m.Attachments, len(want))
		for i, typ := range want {
			require.Equal(t, typ, m.Attachments[i].Type)
			require.NotEmpty(t, m.Attachments[i].URL, typ)
		}
		require.Equal(t, "image", m.Type, "type is the first attachment's when there is no text")
		require.Equal(t, "369239263222822", m.Attachments[4].ExternalID)
		require.Equal(t, "9090", m.Attachments[5].ExternalID)
		require.Equal(t, "https://example.com/article", m.Attachments[11].URL)
		require.Equal(t, "An article", m.Attachments[11].Name)
	})

	t.Run("quick reply", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "messenger_quick_reply")
		require.Equal(t, "COLOR_RED", m.Metadata["quick_reply_payload"])
		require.Equal(t, "Red", m.Text)
	})

	t.Run("reply_to", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "messenger_reply_to")
		require.Equal(t, "m_prev", m.ReplyToID)
	})

	t.Run("ad referral", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "messenger_referral")
		require.Equal(t, "6045246247433", m.Metadata["referral_ad_id"])
		require.Equal(t, "summer", m.Metadata["referral_ref"])
		require.Equal(t, "ADS", m.Metadata["referral_source"])
		require.Equal(t, "Summer sale", m.Metadata["referral_ads_context_data_ad_title"])
	})

	t.Run("echo is outbound in the customer's thread", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "messenger_echo")
		require.Equal(t, sdk.Outbound, m.Direction)
		require.Equal(t, psid, m.ThreadID)
		require.Equal(t, psid, m.Contact.ExternalID)
		require.Equal(t, "1517776481860111", m.Metadata["app_id"])
	})

	t.Run("read watermark", func(t *testing.T) {
		t.Parallel()
		evs := parse(t, "messenger_read")
		require.Len(t, evs, 1)
		require.Equal(t, sdk.EventStatus, evs[0].Kind)
		require.Equal(t, sdk.StatusRead, evs[0].Status.Status)
		require.Equal(t, psid, evs[0].Status.RecipientID)
		require.Empty(t, evs[0].Status.MessageExternalID)
		require.Equal(t, time.UnixMilli(1458668856253).UTC(), evs[0].Status.Timestamp)
	})

	t.Run("delivery", func(t *testing.T) {
		t.Parallel()
		evs := parse(t, "messenger_delivery")
		require.Len(t, evs, 2)
		require.Equal(t, "m_out1", evs[0].Status.MessageExternalID)
		require.Equal(t, "m_out2", evs[1].Status.MessageExternalID)
		require.Equal(t, sdk.StatusDelivered, evs[1].Status.Status)
	})

	t.Run("standby", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "messenger_standby")
		require.Equal(t, "true", m.Metadata["standby"])
		require.Equal(t, sdk.Inbound, m.Direction)
	})
}

func TestHandleWebhookFeed(t *testing.T) {
	t.Parallel()

	t.Run("add", func(t *testing.T) {
		t.Parallel()
		ev, m := oneMessage(t, "feed_comment_add")
		require.Equal(t, meta.PlatformFacebook, ev.Platform)
		require.Equal(t, "900_3001", m.ExternalID)
		require.Equal(t, sdk.ActionCreated, m.Action)
		require.Equal(t, sdk.Inbound, m.Direction)
		require.Equal(t, sdk.ThreadComment, m.ThreadKind)
		require.Equal(t, pageID+"_900", m.ThreadID)
		require.Empty(t, m.ParentID, "a top-level comment's parent is the post")
		require.Equal(t, "Our new menu", m.ThreadSubject)
		require.Equal(t, "https://www.facebook.com/"+pageID+"/posts/900", m.ThreadURL)
		require.Equal(t, sdk.Contact{ExternalID: "7777", Name: "Ada"}, m.Contact)
		require.Equal(t, "Love it", m.Text)
		require.Equal(t, time.Unix(1742667604, 0).UTC(), m.Timestamp)
	})

	t.Run("reply keeps its parent", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "feed_comment_reply")
		require.Equal(t, "900_3001", m.ParentID)
	})

	t.Run("edited", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "feed_comment_edited")
		require.Equal(t, sdk.ActionEdited, m.Action)
		require.Equal(t, "Love it!!", m.Text)
	})

	t.Run("remove", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "feed_comment_remove")
		require.Equal(t, sdk.ActionDeleted, m.Action)
		require.Equal(t, "900_3001", m.ExternalID)
	})

	t.Run("the page's own comment is outbound", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "feed_page_comment")
		require.Equal(t, sdk.Outbound, m.Direction)
	})

	t.Run("reactions are skipped without failing", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, parse(t, "feed_reaction"))
	})
}

func TestHandleWebhookInstagram(t *testing.T) {
	t.Parallel()

	t.Run("dm", func(t *testing.T) {
		t.Parallel()
		ev, m := oneMessage(t, "ig_dm")
		require.Equal(t, meta.PlatformInstagram, ev.Platform)
		require.Equal(t, igID, ev.AccountID)
		require.Equal(t, igsid, m.ThreadID)
		require.Equal(t, "hi there", m.Text)
		require.Equal(t, sdk.Inbound, m.Direction)
	})

	t.Run("story reply", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_story_reply")
		require.Equal(t, "https://lookaside.fbsbx.com/story.mp4", m.Metadata["story_url"])
		require.Equal(t, "17900000000000001", m.Metadata["story_id"])
	})

	t.Run("deleted", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_deleted")
		require.Equal(t, sdk.ActionDeleted, m.Action)
		require.Equal(t, "aWdfZ2lk3", m.ExternalID)
	})

	t.Run("unsupported is kept", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_unsupported")
		require.Equal(t, "unsupported", m.Type)
	})

	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_echo")
		require.Equal(t, sdk.Outbound, m.Direction)
		require.Equal(t, igsid, m.ThreadID)
	})

	t.Run("read mid", func(t *testing.T) {
		t.Parallel()
		evs := parse(t, "ig_read")
		require.Len(t, evs, 1)
		require.Equal(t, "aWdfout1", evs[0].Status.MessageExternalID)
		require.Equal(t, sdk.StatusRead, evs[0].Status.Status)
	})

	t.Run("comment with id", func(t *testing.T) {
		t.Parallel()
		ev, m := oneMessage(t, "ig_comment_id")
		require.Equal(t, meta.PlatformInstagram, ev.Platform)
		require.Equal(t, "17865799348089039", m.ExternalID)
		require.Equal(t, sdk.ThreadComment, m.ThreadKind)
		require.Equal(t, "17887498072083520", m.ThreadID)
		require.Equal(t, "someone", m.Contact.Username)
		require.Equal(t, "9999", m.Contact.ExternalID)
		require.Equal(t, "nice!", m.Text)
		require.Empty(t, m.ParentID)
		require.Equal(t, "FEED", m.Metadata["media_product_type"])
		require.Equal(t, time.Unix(1604027600, 0).UTC(), m.Timestamp)
	})

	t.Run("comment with comment_id and parent", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_comment_comment_id")
		require.Equal(t, "17865799348089040", m.ExternalID)
		require.Equal(t, "17865799348089039", m.ParentID)
	})

	t.Run("own comment is outbound", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_self_comment")
		require.Equal(t, sdk.Outbound, m.Direction)
	})

	t.Run("live comment", func(t *testing.T) {
		t.Parallel()
		_, m := oneMessage(t, "ig_live_comment")
		require.Equal(t, "true", m.Metadata["live"])
	})

	t.Run("mentions are skipped", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, parse(t, "ig_mention"))
	})
}

func TestHandleWebhookBatch(t *testing.T) {
	t.Parallel()
	evs := parse(t, "batch")
	require.Len(t, evs, 4)
	var got [][3]string
	for _, e := range evs {
		got = append(got, [3]string{e.AccountID, e.Message.ExternalID, string(e.Message.ThreadKind)})
	}
	require.Equal(t, [][3]string{
		{pageID, "m_b1", "direct"},
		{pageID, "m_b2", "direct"},
		{"333333333333333", "m_b3", "direct"},
		{"333333333333333", "901_1", "comment"},
	}, got)

	evs = parse(t, "batch_instagram")
	require.Len(t, evs, 2)
	require.Equal(t, igID, evs[0].AccountID)
	require.Equal(t, "17841400000000002", evs[1].AccountID)
	require.Equal(t, meta.PlatformInstagram, evs[1].Platform)
}

func TestHandleWebhookSignature(t *testing.T) {
	t.Parallel()
	body := fixture(t, "messenger_text")
	c := meta.New()
	for name, mutate := range map[string]func(*sdk.WebhookRequest){
		"missing header": func(r *sdk.WebhookRequest) { r.Header = nil },
		"wrong secret": func(r *sdk.WebhookRequest) {
			r.Header = map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256("other", body)}}
		},
		"body changed after signing": func(r *sdk.WebhookRequest) {
			r.Body = append([]byte(nil), body...)
			r.Body[len(r.Body)-2] = ' '
		},
		"sha1 only": func(r *sdk.WebhookRequest) {
			r.Header = map[string][]string{"X-Hub-Signature": {"sha1=0000"}}
		},
		"no app secret configured": func(r *sdk.WebhookRequest) { r.App.ClientSecret = "" },
		"no prefix": func(r *sdk.WebhookRequest) {
			r.Header = map[string][]string{"X-Hub-Signature-256": {sdk.HMACSHA256Hex([]byte(appSecret), body)}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := signedRequest(body)
			mutate(req)
			_, err := c.HandleWebhook(context.Background(), req)
			require.ErrorIs(t, err, sdk.ErrUnauthenticated)
		})
	}

	t.Run("header name is case-insensitive", func(t *testing.T) {
		t.Parallel()
		req := signedRequest(body)
		req.Header = map[string][]string{"X-HUB-SIGNATURE-256": {sdk.HubSignature256(appSecret, body)}}
		_, err := c.HandleWebhook(context.Background(), req)
		require.NoError(t, err)
	})
}

func TestHandleWebhookMalformed(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not json":          `{"object":"page","entry":[`,
		"unknown object":    `{"object":"whatsapp_business_account","entry":[]}`,
		"no object":         `{"entry":[]}`,
		"entry not a list":  `{"object":"page","entry":{}}`,
		"feed value broken": `{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{"item":7}}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := meta.New().HandleWebhook(context.Background(), signedRequest([]byte(body)))
			require.ErrorIs(t, err, sdk.ErrMalformed)
		})
	}
}

func TestHandleWebhookTolerant(t *testing.T) {
	t.Parallel()
	// Numeric ids and a string timestamp still parse; a message without a
	// mid cannot be deduplicated and is dropped, not stored.
	body := `{"object":"page","entry":[{"id":111,"time":"2025-03-22T18:20:07+0000","messaging":[
	  {"sender":{"id":42},"recipient":{"id":111},"message":{"mid":"m_1","text":"hi"}},
	  {"sender":{"id":42},"recipient":{"id":111},"message":{"text":"no mid"}},
	  {"sender":{"id":42},"recipient":{"id":111},"reaction":{"mid":"m_1","action":"react","emoji":"x"}}]}]}`
	res, err := meta.New().HandleWebhook(context.Background(), signedRequest([]byte(body)))
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
	m := res.Events[0].Message
	require.Equal(t, "42", m.ThreadID)
	require.Equal(t, "111", res.Events[0].AccountID)
	require.Equal(t, time.Date(2025, 3, 22, 18, 20, 7, 0, time.UTC), m.Timestamp)
}

func TestVerifySubscription(t *testing.T) {
	t.Parallel()
	c := meta.New()
	app := sdk.App{VerifyToken: "verify-me"}
	q := func(mode, token string) map[string][]string {
		return map[string][]string{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {"1158201444"}}
	}

	res, err := c.VerifySubscription(context.Background(), &sdk.VerifyRequest{App: app, Query: q("subscribe", "verify-me")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "1158201444", string(res.Body))

	for name, req := range map[string]*sdk.VerifyRequest{
		"wrong token":         {App: app, Query: q("subscribe", "nope")},
		"wrong mode":          {App: app, Query: q("unsubscribe", "verify-me")},
		"no token configured": {App: sdk.App{}, Query: q("subscribe", "")},
	} {
		res, err := c.VerifySubscription(context.Background(), req)
		require.NoError(t, err, name)
		require.Equal(t, http.StatusForbidden, res.StatusCode, name)
		require.NotContains(t, string(res.Body), "1158201444", name)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d, err := meta.New().Describe(context.Background())
	require.NoError(t, err)
	require.Equal(t, "meta", d.Name)
	require.Equal(t, []string{"facebook", "instagram"}, d.Platforms)
	require.ElementsMatch(t, []sdk.Capability{sdk.CapWebhook, sdk.CapVerifySubscription, sdk.CapDirectMessage, sdk.CapCommentReply,
		sdk.CapPrivateReply, sdk.CapPublish, sdk.CapValidate, sdk.CapRevoke,
		sdk.CapOAuth, sdk.CapSubscribe, sdk.CapMediaFetch, sdk.CapLookup}, d.Capabilities)
	var names []string
	for _, f := range d.ConfigSchema {
		names = append(names, f.Name)
	}
	require.Subset(t, names, []string{"app_secret", "verify_token", "api_base_url", "app_id", "auth_url", "human_agent_tag", "allow_private_media_urls"})
	require.Equal(t, "page id or Instagram account id", d.AccountIDLabel)
}
