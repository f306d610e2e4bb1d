package tiktok_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/tiktok/sandbox"
)

func TestHandleWebhookSignature(t *testing.T) {
	t.Parallel()
	body := fixture(t, "dm_text.json")
	withHeader := func(v string) *sdk.WebhookRequest {
		req := signedRequest(body)
		req.Header = map[string][]string{"Tiktok-Signature": {v}}
		return req
	}
	ts := strconv.FormatInt(receivedAt.Unix(), 10)
	tolerance := tiktok.SignatureTolerance

	accepted := map[string]*sdk.WebhookRequest{
		"signed now":                   signedRequest(body),
		"signed 5 minutes before":      signedAt(body, receivedAt.Add(-tolerance)),
		"signed 5 minutes after":       signedAt(body, receivedAt.Add(tolerance)),
		"lowercase header name":        withHeaderName(signedRequest(body), "tiktok-signature"),
		"secret in settings only":      withSecretInSettings(signedRequest(body)),
		"client key in ClientID":       withClientID(signedRequest(body)),
		"no client key configured":     withoutClientKey(signedRequest(body)),
		"extra spaces around elements": withHeader(" t=" + ts + " , s=" + sdk.HMACSHA256Hex([]byte(clientSecret), []byte(ts+"."+string(body))) + " "),
	}
	for name, req := range accepted {
		t.Run("accepts "+name, func(t *testing.T) {
			t.Parallel()
			res, err := tiktok.New().HandleWebhook(context.Background(), req)
			require.NoError(t, err)
			require.Len(t, res.Events, 1)
		})
	}

	otherSecret := signedRequest(body)
	otherSecret.Header["Tiktok-Signature"] = []string{sdk.TikTokSignature("another-secret", receivedAt, body)}
	tampered := signedRequest(body)
	tampered.Body = []byte(strings.Replace(string(body), "Lisbon", "Lisboa", 1))
	noSecret := signedRequest(body)
	noSecret.App.ClientSecret = ""
	otherApp := fixtureWith(t, "dm_text.json", `"client_key": "test-client-key"`, `"client_key": "another-app"`)

	refused := map[string]*sdk.WebhookRequest{
		"no header":                      withHeader(""),
		"garbage header":                 withHeader("garbage"),
		"no timestamp":                   withHeader("s=" + strings.Repeat("0", 64)),
		"no signature":                   withHeader("t=" + ts),
		"non-numeric timestamp":          withHeader("t=yesterday,s=" + sdk.HMACSHA256Hex([]byte(clientSecret), []byte("yesterday."+string(body)))),
		"signature not hex":              withHeader("t=" + ts + ",s=not-hex"),
		"wrong signature":                withHeader("t=" + ts + ",s=" + strings.Repeat("0", 64)),
		"signature of the body alone":    withHeader("t=" + ts + ",s=" + sdk.HMACSHA256Hex([]byte(clientSecret), body)),
		"signed with another secret":     otherSecret,
		"body changed after signing":     tampered,
		"stale by 5 minutes and 1 s":     signedAt(body, receivedAt.Add(-tolerance-time.Second)),
		"an hour old":                    signedAt(body, receivedAt.Add(-time.Hour)),
		"future by 5 minutes and 1 s":    signedAt(body, receivedAt.Add(tolerance+time.Second)),
		"no client secret configured":    noSecret,
		"signed for another client key":  signedRequest(otherApp),
		"replayed timestamp, fresh body": withHeader("t=" + strconv.FormatInt(receivedAt.Add(-time.Hour).Unix(), 10) + ",s=" + sdk.HMACSHA256Hex([]byte(clientSecret), []byte(strconv.FormatInt(receivedAt.Add(-time.Hour).Unix(), 10)+"."+string(body)))),
	}
	for name, req := range refused {
		t.Run("refuses "+name, func(t *testing.T) {
			t.Parallel()
			res, err := tiktok.New().HandleWebhook(context.Background(), req)
			sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)
			require.Nil(t, res)
		})
	}

	t.Run("the connector's clock judges a delivery without a receipt time", func(t *testing.T) {
		t.Parallel()
		req := signedRequest(body)
		req.ReceivedAt = time.Time{}
		_, err := tiktok.New(tiktok.WithClock(func() time.Time { return receivedAt.Add(10 * time.Minute) })).HandleWebhook(context.Background(), req)
		sdktest.RequireClass(t, sdk.ClassUnauthenticated, err)
		_, err = tiktok.New(tiktok.WithClock(func() time.Time { return receivedAt.Add(time.Minute) })).HandleWebhook(context.Background(), req)
		require.NoError(t, err)
	})
}

func withHeaderName(req *sdk.WebhookRequest, name string) *sdk.WebhookRequest {
	v := req.Header["Tiktok-Signature"]
	req.Header = map[string][]string{name: v}
	return req
}

func withSecretInSettings(req *sdk.WebhookRequest) *sdk.WebhookRequest {
	req.App.ClientSecret = ""
	req.App.Settings = map[string]string{tiktok.SettingClientSecret: clientSecret, tiktok.SettingClientKey: clientKey}
	return req
}

func withClientID(req *sdk.WebhookRequest) *sdk.WebhookRequest {
	req.App.Settings = nil
	req.App.ClientID = clientKey
	return req
}

func withoutClientKey(req *sdk.WebhookRequest) *sdk.WebhookRequest {
	req.App.Settings = nil
	return req
}

func fixtureWith(t *testing.T, name, old, new string) []byte {
	t.Helper()
	b := string(fixture(t, name))
	require.Contains(t, b, old)
	return []byte(strings.Replace(b, old, new, 1))
}

func TestHandleWebhookMalformed(t *testing.T) {
	t.Parallel()
	env := func(event, content string) []byte {
		return []byte(`{"client_key":"test-client-key","event":"` + event + `","create_time":1748779200,"user_openid":"` + business + `","content":` + content + `}`)
	}
	cases := map[string][]byte{
		"empty body":                         nil,
		"not JSON":                           []byte(`{"event":`),
		"a JSON array":                       []byte(`[1,2]`),
		"no event":                           []byte(`{"client_key":"test-client-key","user_openid":"x","content":"{}"}`),
		"content string not JSON":            env("im_receive_msg", `"{not json"`),
		"content string of an array":         env("im_receive_msg", `"[1,2]"`),
		"content a number":                   env("authorization.removed", `42`),
		"content missing":                    env("post.publish.complete", `null`),
		"content with ids of the wrong type": env("im_receive_msg", `"{\"message_id\":{\"a\":1},\"conversation_id\":\"c\"}"`),
		"no user_openid":                     []byte(`{"client_key":"test-client-key","event":"im_receive_msg","create_time":1,"content":"{}"}`),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := tiktok.New().HandleWebhook(context.Background(), signedRequest(body))
			sdktest.RequireClass(t, sdk.ClassMalformed, err)
			require.Nil(t, res)
		})
	}
}

func TestHandleWebhookIgnored(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"unknown_event.json", "dm_eu.json", "dm_no_ids.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Empty(t, deliver(t, fixture(t, name)))
		})
	}
	t.Run("unknown event with a bad content string", func(t *testing.T) {
		t.Parallel()
		body := []byte(`{"client_key":"test-client-key","event":"brand.mention.event","create_time":1,"user_openid":"x","content":"{broken"}`)
		require.Empty(t, deliver(t, body))
	})
}

// oneDM delivers a fixture holding exactly one DM.
func oneDM(t *testing.T, name string, dir sdk.Direction) *sdk.Message {
	t.Helper()
	events := deliver(t, fixture(t, name))
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, sdk.EventMessage, ev.Kind)
	require.Equal(t, tiktok.Platform, ev.Platform)
	require.Equal(t, business, ev.AccountID)
	m := ev.Message
	require.NotNil(t, m)
	require.Equal(t, dir, m.Direction)
	require.Equal(t, sdk.ThreadDirect, m.ThreadKind)
	require.Equal(t, sdk.ActionCreated, m.Action)
	require.Equal(t, convID, m.ThreadID)
	require.Equal(t, customer, m.Contact.ExternalID)
	require.Equal(t, receivedAt.Add(500*time.Millisecond), m.Timestamp.UTC())
	require.Equal(t, m.Timestamp, ev.OccurredAt)
	return m
}

func TestHandleWebhookDirectMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		dir     sdk.Direction
		check   func(t *testing.T, m *sdk.Message)
	}{
		{"dm_text.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "7391000000000000001", m.ExternalID)
			require.Equal(t, "text", m.Type)
			require.Equal(t, "Do you ship to Lisbon?", m.Text)
			require.Equal(t, "lena.k", m.Contact.Name)
			require.Equal(t, "true", m.Metadata["is_follower"])
			require.Equal(t, "im_receive_msg", m.Metadata["tiktok_event"])
		}},
		{"dm_text_alt.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "Hello again", m.Text)
			require.Equal(t, "direct_message.receive", m.Metadata["tiktok_event"])
		}},
		{"dm_image.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "image", m.Type)
			require.Equal(t, []sdk.Attachment{{Type: "image", URL: "https://p16.tiktokcdn.example/img.jpeg", ExternalID: "v09044g40000image"}}, m.Attachments)
		}},
		{"dm_share_post.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "share_post", m.Type)
			require.Equal(t, []sdk.Attachment{{Type: "share_post", URL: "https://www.tiktok.com/embed/v2/7290000000000000009", ExternalID: "7290000000000000009"}}, m.Attachments)
			require.Equal(t, "7290000000000000009", m.Metadata["shared_video_id"])
		}},
		{"dm_sticker.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "sticker", m.Type)
			require.Equal(t, "https://p16.tiktokcdn.example/sticker.webp", m.Attachments[0].URL)
		}},
		{"dm_unsupported.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "unsupported", m.Type)
			require.Equal(t, "template", m.Metadata["tiktok_type"])
			require.Equal(t, "7391000000000000006", m.ExternalID)
		}},
		{"dm_reply_to.json", sdk.Inbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "7391000000000000001", m.ReplyToID)
		}},
		{"dm_echo.json", sdk.Outbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "We do!", m.Text)
			require.Equal(t, "API", m.Metadata["message_source"])
			require.Equal(t, "im_send_msg", m.Metadata["tiktok_event"])
		}},
		{"dm_echo_alt.json", sdk.Outbound, func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "APP", m.Metadata["message_source"])
			require.Equal(t, "direct_message.send", m.Metadata["tiktok_event"])
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			tc.check(t, oneDM(t, tc.fixture, tc.dir))
		})
	}

	t.Run("a receive event from the business itself is outbound", func(t *testing.T) {
		t.Parallel()
		body := sandbox.DM{ClientKey: clientKey, BusinessID: business, CustomerID: customer, Text: "hi", Echo: true,
			Event: tiktok.EventReceiveMessage, At: receivedAt}.Body()
		events := deliver(t, body)
		require.Len(t, events, 1)
		require.Equal(t, sdk.Outbound, events[0].Message.Direction)
		require.Equal(t, customer, events[0].Message.Contact.ExternalID)
	})
}

func TestHandleWebhookAuthorizationRemoved(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"authorization_removed.json": "1", "content_object.json": "5"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			events := deliver(t, fixture(t, name))
			require.Len(t, events, 1)
			ev := events[0]
			require.Equal(t, sdk.EventAccount, ev.Kind)
			require.Equal(t, business, ev.AccountID)
			require.Equal(t, receivedAt, ev.OccurredAt.UTC())
			require.Equal(t, tiktok.AccountRemoved, ev.Account.Type)
			require.Equal(t, want, ev.Account.Detail["reason"])
			require.NotEmpty(t, ev.Account.Detail["reason_text"])
		})
	}
}

func TestHandleWebhookPublish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		id      string
		state   sdk.PublishState
		class   sdk.ErrorClass
		code    string
	}{
		{"post_publish_complete.json", "v_pub_url~v2.7300000000000000042", sdk.PublishPublished, "", ""},
		{"post_publicly_available.json", "v_pub_url~v2.7300000000000000042", sdk.PublishPublished, "", ""},
		{"post_publish_failed.json", "v_pub_url~v2.7300000000000000043", sdk.PublishFailed, sdk.ClassPermanent, "duration_check_failed"},
		{"post_publish_failed_pull.json", "v_pub_url~v2.7300000000000000044", sdk.PublishFailed, sdk.ClassRetryable, "video_pull_failed"},
		{"video_publish_completed.json", "video.6974245311675353080.VDCxrcMJ", sdk.PublishPublished, "", ""},
		{"video_upload_failed.json", "video.6974245311675353081.VDCxrcMJ", sdk.PublishFailed, sdk.ClassPermanent, "upload_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			events := deliver(t, fixture(t, tc.fixture))
			require.Len(t, events, 1)
			ev := events[0]
			require.Equal(t, sdk.EventPublish, ev.Kind)
			require.Equal(t, business, ev.AccountID)
			require.Equal(t, tc.id, ev.Publish.ExternalID)
			require.Equal(t, tc.state, ev.Publish.State)
			if tc.class == "" {
				require.Nil(t, ev.Publish.Error)
				return
			}
			require.NotNil(t, ev.Publish.Error)
			require.Equal(t, tc.class, ev.Publish.Error.Class)
			require.Equal(t, tc.code, ev.Publish.Error.Code)
			require.NotEmpty(t, ev.Publish.Error.Message)
		})
	}
}

func TestHandleWebhookCommentUpdate(t *testing.T) {
	t.Parallel()
	t.Run("insert names the comment to fetch, ids exact", func(t *testing.T) {
		t.Parallel()
		events := deliver(t, fixture(t, "comment_update_insert.json"))
		require.Len(t, events, 1)
		ev := events[0]
		require.Equal(t, sdk.EventNotify, ev.Kind)
		require.Equal(t, business, ev.AccountID)
		require.Equal(t, &sdk.Notification{Type: tiktok.NotifyCommentUpdate, ThreadKind: sdk.ThreadComment,
			ItemID: "7391234567890123456:7391234567890123457"}, ev.Notify)
	})
	t.Run("delete marks the comment deleted", func(t *testing.T) {
		t.Parallel()
		events := deliver(t, fixture(t, "comment_update_delete.json"))
		require.Len(t, events, 1)
		m := events[0].Message
		require.Equal(t, sdk.EventMessage, events[0].Kind)
		require.Equal(t, sdk.ActionDeleted, m.Action)
		require.Equal(t, "7391234567890123458", m.ExternalID)
		require.Equal(t, "7391234567890123456", m.ThreadID)
		require.Equal(t, "7391234567890123457", m.ParentID)
		require.Equal(t, sdk.ThreadComment, m.ThreadKind)
		require.Empty(t, m.Contact.ExternalID)
	})
	t.Run("the builder's deliveries parse the same way", func(t *testing.T) {
		t.Parallel()
		events := deliver(t, sandbox.CommentUpdate(clientKey, business, "7391234567890123456", "7391234567890123499", "", "set_to_hidden"))
		require.Len(t, events, 1)
		require.Equal(t, "7391234567890123456:7391234567890123499", events[0].Notify.ItemID)
	})
}
