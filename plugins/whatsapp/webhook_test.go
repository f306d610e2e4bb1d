package whatsapp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp"
	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const (
	appSecret   = "test-app-secret"
	phoneID     = "106540352242922"
	customer    = "16505551234"
	customerTel = "+16505551234"
)

var receivedAt = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func signedRequest(body []byte) *sdk.WebhookRequest {
	return &sdk.WebhookRequest{
		App:        sdk.App{ClientSecret: appSecret},
		Method:     "POST",
		Path:       "/webhooks/whatsapp",
		Header:     map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256(appSecret, body)}, "Content-Type": {"application/json"}},
		Body:       body,
		ReceivedAt: receivedAt,
	}
}

func deliver(t *testing.T, body []byte) []*sdk.Event {
	t.Helper()
	res, err := whatsapp.New().HandleWebhook(context.Background(), signedRequest(body))
	require.NoError(t, err)
	require.NotNil(t, res)
	return res.Events
}

// oneMessage delivers a fixture that must hold exactly one inbound message.
func oneMessage(t *testing.T, name string) *sdk.Message {
	t.Helper()
	events := deliver(t, fixture(t, name))
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, sdk.EventMessage, ev.Kind)
	require.Equal(t, "whatsapp", ev.Platform)
	require.Equal(t, phoneID, ev.AccountID)
	m := ev.Message
	require.NotNil(t, m)
	require.Equal(t, sdk.Inbound, m.Direction)
	require.Equal(t, sdk.ThreadDirect, m.ThreadKind)
	require.Equal(t, sdk.ActionCreated, m.Action)
	require.Equal(t, customer, m.ThreadID)
	require.Equal(t, customer, m.Contact.ExternalID)
	require.Equal(t, customerTel, m.Contact.Phone)
	require.Equal(t, m.Timestamp, ev.OccurredAt)
	return m
}

func TestHandleWebhookMessageTypes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		fixture string
		check   func(t *testing.T, m *sdk.Message)
	}{
		{"text.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=", m.ExternalID)
			require.Equal(t, "text", m.Type)
			require.Equal(t, "Does it come in another color?", m.Text)
			require.Equal(t, "Sheena Nelson", m.Contact.Name)
			require.Equal(t, time.Unix(1749416383, 0).UTC(), m.Timestamp)
			require.Empty(t, m.ReplyToID)
			require.Empty(t, m.Attachments)
		}},
		{"image.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "image", m.Type)
			require.Equal(t, "This is the color I want", m.Text)
			require.Equal(t, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA", m.ReplyToID)
			require.Equal(t, []sdk.Attachment{{Type: "image", ExternalID: "1003383421387256", MimeType: "image/jpeg", Caption: "This is the color I want"}}, m.Attachments)
			require.Equal(t, "SfInY0gHJZTyWwBRLkqEp/2yeV3flOL8ZsPWxAAe1Ag=", m.Metadata[whatsapp.MetaMediaSHA256])
			require.Equal(t, "15550783881", m.Metadata[whatsapp.MetaContextFrom])
			require.Contains(t, m.Metadata[whatsapp.MetaMediaURL], "mid=1003383421387256")
		}},
		{"audio.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "audio", m.Type)
			require.Empty(t, m.Text)
			require.Equal(t, []sdk.Attachment{{Type: "audio", ExternalID: "2070426323412236", MimeType: "audio/ogg; codecs=opus"}}, m.Attachments)
			require.Equal(t, "true", m.Metadata[whatsapp.MetaVoice])
		}},
		{"video.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "video", m.Type)
			require.Equal(t, "Unboxing", m.Text)
			require.Equal(t, []sdk.Attachment{{Type: "video", ExternalID: "1184387339914224", MimeType: "video/mp4", Caption: "Unboxing"}}, m.Attachments)
		}},
		{"document.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "document", m.Type)
			require.Equal(t, "My receipt", m.Text)
			require.Equal(t, []sdk.Attachment{{Type: "file", ExternalID: "2149536752141818", MimeType: "application/pdf", Caption: "My receipt", Name: "receipt.pdf"}}, m.Attachments)
		}},
		{"sticker.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "sticker", m.Type)
			require.Equal(t, []sdk.Attachment{{Type: "sticker", ExternalID: "1029413482320453", MimeType: "image/webp"}}, m.Attachments)
			require.NotContains(t, m.Metadata, whatsapp.MetaAnimated, "animated:false sets nothing")
		}},
		{"location.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "location", m.Type)
			require.Equal(t, "Location: Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 (37.44211676767, -122.16177256846)", m.Text)
			require.Equal(t, []sdk.Attachment{{Type: "location", URL: "geo:37.44211676767,-122.16177256846", Name: "Philz Coffee", Caption: "101 Forest Ave, Palo Alto, CA 94301"}}, m.Attachments)
			require.Equal(t, "37.44211676767", m.Metadata[whatsapp.MetaLatitude])
			require.Equal(t, "-122.16177256846", m.Metadata[whatsapp.MetaLongitude])
			require.Equal(t, "https://philzcoffee.com/", m.Metadata[whatsapp.MetaLocationURL])
		}},
		{"contacts.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "contacts", m.Type)
			require.Equal(t, "Contact: Barbara J. Johnson, +1 (940) 555-1234", m.Text)
			require.Equal(t, []sdk.Attachment{{Type: "contact", Name: "Barbara J. Johnson", URL: "tel:+1(940)555-1234", ExternalID: "19405551234"}}, m.Attachments)
		}},
		{"reaction.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "reaction", m.Type)
			require.Empty(t, m.Text, "a reaction is not text to answer")
			require.Equal(t, "👍", m.Metadata[whatsapp.MetaReactionEmoji])
			require.Equal(t, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA", m.Metadata[whatsapp.MetaReactionMessageID])
		}},
		{"interactive_button_reply.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "interactive", m.Type)
			require.Equal(t, "Change", m.Text)
			require.Equal(t, "wamid.OUTBOUND_BUTTONS", m.ReplyToID)
			require.Equal(t, "button_reply", m.Metadata[whatsapp.MetaInteractiveType])
			require.Equal(t, "change-button", m.Metadata[whatsapp.MetaReplyID])
		}},
		{"interactive_list_reply.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "Priority Mail Express", m.Text)
			require.Equal(t, "list_reply", m.Metadata[whatsapp.MetaInteractiveType])
			require.Equal(t, "priority_express", m.Metadata[whatsapp.MetaReplyID])
			require.Equal(t, "Next Day to 2 Days", m.Metadata[whatsapp.MetaReplyDescription])
		}},
		{"button.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "button", m.Type)
			require.Equal(t, "Stop promotions", m.Text)
			require.Equal(t, "UNSUBSCRIBE_PAYLOAD", m.Metadata[whatsapp.MetaButtonPayload])
			require.Equal(t, "wamid.TEMPLATE_OUT", m.ReplyToID)
		}},
		{"unsupported.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "wamid.UNSUPPORTED1", m.ExternalID)
			require.Equal(t, "unsupported", m.Type)
			require.Equal(t, "131051", m.Metadata[whatsapp.MetaErrorCode])
			require.Equal(t, "Message type unknown", m.Metadata[whatsapp.MetaErrorTitle])
			require.Equal(t, "Message type is currently not supported.", m.Metadata[whatsapp.MetaErrorDetails])
		}},
		{"unknown_type.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "wamid.HOLOGRAM1", m.ExternalID)
			require.Equal(t, "hologram", m.Type, "unknown types keep their name")
			require.JSONEq(t, `{"id":"987","shape":"cube"}`, m.Metadata[whatsapp.MetaRaw])
			require.Equal(t, time.Unix(1744344496, 0).UTC(), m.Timestamp, "numeric timestamps are accepted")
			require.Equal(t, "Sheena Nelson", m.Contact.Name)
		}},
		{"referral.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "Hi! Is the offer still on?", m.Text)
			require.Equal(t, "https://fb.me/3cr4Wqqkv", m.Metadata["referral_source_url"])
			require.Equal(t, "ad", m.Metadata["referral_source_type"])
			require.Equal(t, "120226305854810726", m.Metadata["referral_source_id"])
			require.Equal(t, "ARAkLkA8rmlFeiCktEJQ", m.Metadata["referral_ctwa_clid"])
		}},
		{"system.json", func(t *testing.T, m *sdk.Message) {
			require.Equal(t, "system", m.Type)
			require.Equal(t, "user_changed_number", m.Metadata[whatsapp.MetaSystemType])
			require.Equal(t, "16505559999", m.Metadata[whatsapp.MetaSystemNewWaID])
			require.Empty(t, m.Contact.Name, "no contacts[] in the delivery")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			tt.check(t, oneMessage(t, tt.fixture))
		})
	}
}

func TestHandleWebhookStatuses(t *testing.T) {
	t.Parallel()

	events := deliver(t, fixture(t, "statuses.json"))
	// Eight statuses, of which "deleted" has no place in the SDK.
	require.Len(t, events, 7)
	for _, ev := range events {
		require.Equal(t, sdk.EventStatus, ev.Kind)
		require.Equal(t, phoneID, ev.AccountID)
		require.Equal(t, ev.Status.Timestamp, ev.OccurredAt)
	}
	want := []struct {
		id     string
		status sdk.DeliveryStatus
		class  sdk.ErrorClass
		code   string
	}{
		{"wamid.OUT1", sdk.StatusSent, "", ""},
		{"wamid.OUT1", sdk.StatusDelivered, "", ""},
		{"wamid.OUT2", sdk.StatusRead, "", ""},
		{"wamid.OUT3", sdk.StatusFailed, sdk.ClassWindowClosed, "131047"},
		{"wamid.OUT4", sdk.StatusFailed, sdk.ClassPermanent, "131026"},
		{"wamid.OUT5", sdk.StatusFailed, sdk.ClassRetryable, "130429"},
		{"wamid.OUT6", sdk.StatusFailed, sdk.ClassAuthRevoked, "190"},
	}
	for i, ev := range events {
		st := ev.Status
		require.Equal(t, want[i].id, st.MessageExternalID, i)
		require.Equal(t, want[i].status, st.Status, i)
		if want[i].class == "" {
			require.Nil(t, st.Error, i)
			continue
		}
		require.NotNil(t, st.Error, i)
		require.Equal(t, want[i].class, st.Error.Class, i)
		require.Equal(t, want[i].code, st.Error.Code, i)
	}
	require.Equal(t, "16505550000", events[4].Status.RecipientID)
	require.Equal(t, time.Unix(1750263790, 0).UTC(), events[3].Status.Timestamp)
	require.Equal(t, "Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
		events[3].Status.Error.Message, "title and details")
}

func TestHandleWebhookBatched(t *testing.T) {
	t.Parallel()

	events := deliver(t, fixture(t, "batched.json"))
	require.Len(t, events, 4)

	type got struct {
		kind    sdk.EventKind
		account string
		id      string
		name    string
	}
	var all []got
	for _, ev := range events {
		g := got{kind: ev.Kind, account: ev.AccountID}
		if ev.Message != nil {
			g.id, g.name = ev.Message.ExternalID, ev.Message.Contact.Name
		} else {
			g.id = ev.Status.MessageExternalID
		}
		all = append(all, g)
	}
	require.Equal(t, []got{
		{sdk.EventMessage, "106540352242922", "wamid.BATCH_A1", "Sheena Nelson"},
		{sdk.EventMessage, "106540352242922", "wamid.BATCH_A2", "Kai Ito"},
		{sdk.EventStatus, "106540352242922", "wamid.OUT9", ""},
		{sdk.EventMessage, "300000000000002", "wamid.BATCH_B1", "Ana Souza"},
	}, all)
	require.Equal(t, "+447700900123", events[1].Message.Contact.Phone)
}

func TestHandleWebhookErrors(t *testing.T) {
	t.Parallel()

	events := deliver(t, fixture(t, "webhook_errors.json"))
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, sdk.EventAccount, ev.Kind)
	require.Equal(t, phoneID, ev.AccountID)
	require.Equal(t, receivedAt, ev.OccurredAt)
	require.Equal(t, whatsapp.AccountWebhookError, ev.Account.Type)
	require.Equal(t, "131000", ev.Account.Detail["code"])
	require.Equal(t, "Something went wrong", ev.Account.Detail["title"])
	require.Equal(t, "Failed to download the media: media id expired", ev.Account.Detail["details"])
}

func TestHandleWebhookOtherFields(t *testing.T) {
	t.Parallel()

	events := deliver(t, fixture(t, "template_status.json"))
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, sdk.EventAccount, ev.Kind)
	require.Equal(t, "102290129340398", ev.AccountID, "no phone number: the WABA id")
	require.Equal(t, "message_template_status_update", ev.Account.Type)
	require.Equal(t, "APPROVED", ev.Account.Detail["event"])
	require.Equal(t, "order_update", ev.Account.Detail["message_template_name"])
	require.Equal(t, "16895569081298321", ev.Account.Detail["message_template_id"], "17 digits survive")
}

func TestHandleWebhookEchoes(t *testing.T) {
	t.Parallel()

	events := deliver(t, fixture(t, "echoes.json"))
	require.Len(t, events, 1)
	m := events[0].Message
	require.Equal(t, sdk.Outbound, m.Direction, "the business's own sends must not trigger the agent")
	require.Equal(t, customer, m.ThreadID)
	require.Equal(t, customer, m.Contact.ExternalID)
	require.Equal(t, "Sent from the WhatsApp Business app", m.Text)
}

func TestHandleWebhookTolerance(t *testing.T) {
	t.Parallel()

	t.Run("MissingIDIsStable", func(t *testing.T) {
		t.Parallel()
		body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
			"metadata":{"phone_number_id":"` + phoneID + `"},
			"messages":[{"from":"1","type":"text","text":{"body":"no id"}}]}}]}]}`)
		first, second := deliver(t, body), deliver(t, body)
		require.Len(t, first, 1)
		require.Regexp(t, `^sha256:[0-9a-f]{32}$`, first[0].Message.ExternalID)
		require.Equal(t, first[0].Message.ExternalID, second[0].Message.ExternalID, "redeliveries must deduplicate")
		require.Equal(t, receivedAt, first[0].Message.Timestamp, "no timestamp: the delivery time")
	})
	t.Run("WrongFieldTypesKeepTheMessage", func(t *testing.T) {
		t.Parallel()
		body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
			"metadata":{"phone_number_id":"` + phoneID + `"},
			"messages":[{"from":"1","id":"wamid.X","timestamp":"nope","type":"text","text":{"body":42}},
			            "not an object",
			            {"from":{"odd":true},"id":"wamid.Y","type":"image","image":{"id":5,"caption":"c"}}]}}]}]}`)
		events := deliver(t, body)
		require.Len(t, events, 3, "no message is dropped")
		require.Equal(t, "wamid.X", events[0].Message.ExternalID)
		require.Equal(t, "text", events[0].Message.Type)
		require.NotEmpty(t, events[0].Message.Metadata[whatsapp.MetaParseError])
		require.Equal(t, "unsupported", events[1].Message.Type)
		require.Equal(t, "5", events[2].Message.Attachments[0].ExternalID)
		require.Equal(t, "c", events[2].Message.Text)
	})
	t.Run("BadValueBecomesWebhookError", func(t *testing.T) {
		t.Parallel()
		body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":[1,2]}]}]}`)
		events := deliver(t, body)
		require.Len(t, events, 1)
		require.Equal(t, whatsapp.AccountWebhookError, events[0].Account.Type)
	})
	t.Run("EmptyEntries", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, deliver(t, []byte(`{"object":"whatsapp_business_account","entry":[]}`)))
	})
}

func TestHandleWebhookSignature(t *testing.T) {
	t.Parallel()

	body := fixture(t, "text.json")
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-10] = ' '
	tests := []struct {
		name   string
		secret string
		header map[string][]string
		body   []byte
		ok     bool
	}{
		{"Valid", appSecret, map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256(appSecret, body)}}, body, true},
		{"LowercaseHeaderName", appSecret, map[string][]string{"x-hub-signature-256": {sdk.HubSignature256(appSecret, body)}}, body, true},
		{"ValidWithLegacySHA1", appSecret, map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256(appSecret, body)}, "X-Hub-Signature": {"sha1=0000"}}, body, true},
		{"Missing", appSecret, map[string][]string{}, body, false},
		{"WrongSecret", appSecret, map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256("other", body)}}, body, false},
		{"LegacySHA1Only", appSecret, map[string][]string{"X-Hub-Signature": {"sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"}}, body, false},
		{"NoPrefix", appSecret, map[string][]string{"X-Hub-Signature-256": {sdk.HMACSHA256Hex([]byte(appSecret), body)}}, body, false},
		{"TamperedBody", appSecret, map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256(appSecret, body)}}, tampered, false},
		{"NoSecretConfigured", "", map[string][]string{"X-Hub-Signature-256": {sdk.HubSignature256("", body)}}, body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := whatsapp.New().HandleWebhook(context.Background(), &sdk.WebhookRequest{
				App: sdk.App{ClientSecret: tt.secret}, Header: tt.header, Body: tt.body,
			})
			if tt.ok {
				require.NoError(t, err)
				require.Len(t, res.Events, 1)
				return
			}
			require.Nil(t, res)
			require.ErrorIs(t, err, sdk.ErrUnauthenticated)
		})
	}
}

func TestHandleWebhookSecretFromSettings(t *testing.T) {
	t.Parallel()

	body := fixture(t, "text.json")
	req := signedRequest(body)
	req.App = sdk.App{Settings: map[string]string{whatsapp.SettingAppSecret: appSecret}}
	res, err := whatsapp.New().HandleWebhook(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, res.Events, 1)
}

func TestHandleWebhookMalformed(t *testing.T) {
	t.Parallel()

	for name, body := range map[string]string{
		"Empty":        ``,
		"NotJSON":      `object=whatsapp`,
		"Truncated":    `{"object":"whatsapp_business_account","entry":[`,
		"WrongObject":  `{"object":"page","entry":[]}`,
		"NoObject":     `{"entry":[]}`,
		"EntryIsNotAn": `{"object":"whatsapp_business_account","entry":{"id":"1"}}`,
		"Array":        `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := whatsapp.New().HandleWebhook(context.Background(), signedRequest([]byte(body)))
			require.Nil(t, res)
			require.ErrorIs(t, err, sdk.ErrMalformed)
		})
	}
}

func TestHandleWebhookSandboxBuilders(t *testing.T) {
	t.Parallel()

	t.Run("TextMessage", func(t *testing.T) {
		t.Parallel()
		before := time.Now().Add(-time.Second).Truncate(time.Second)
		events := deliver(t, sandbox.TextMessage(phoneID, customer, "Sheena Nelson", "hello"))
		require.Len(t, events, 1)
		m := events[0].Message
		require.Equal(t, phoneID, events[0].AccountID)
		require.Equal(t, "hello", m.Text)
		require.Equal(t, "Sheena Nelson", m.Contact.Name)
		require.Regexp(t, `^wamid\.`, m.ExternalID)
		require.False(t, m.Timestamp.Before(before), "current time")
		other := deliver(t, sandbox.TextMessage(phoneID, customer, "Sheena Nelson", "hello"))
		require.NotEqual(t, m.ExternalID, other[0].Message.ExternalID, "fresh wamid per message")
	})
	t.Run("Media", func(t *testing.T) {
		t.Parallel()
		events := deliver(t, sandbox.Inbound{PhoneNumberID: phoneID, From: customer, Type: "document", Text: "invoice", ReplyToID: "wamid.Q"}.Body())
		m := events[0].Message
		require.Equal(t, "document", m.Type)
		require.Equal(t, "invoice", m.Text)
		require.Equal(t, "wamid.Q", m.ReplyToID)
		require.Equal(t, "application/pdf", m.Attachments[0].MimeType)
		require.NotEmpty(t, m.Attachments[0].ExternalID)
	})
	t.Run("Statuses", func(t *testing.T) {
		t.Parallel()
		events := deliver(t, sandbox.StatusUpdate(phoneID, "wamid.S", customer, "delivered"))
		require.Equal(t, sdk.StatusDelivered, events[0].Status.Status)
		events = deliver(t, sandbox.FailedStatus(phoneID, "wamid.S", customer, 131047, "Re-engagement message", "24 hours"))
		require.Equal(t, sdk.ClassWindowClosed, events[0].Status.Error.Class)
	})
	t.Run("Sign", func(t *testing.T) {
		t.Parallel()
		body := sandbox.TextMessage(phoneID, customer, "", "x")
		require.NoError(t, sdk.VerifyHubSignature256(appSecret, body, sandbox.Sign(appSecret, body)))
	})
}

func TestVerifySubscription(t *testing.T) {
	t.Parallel()

	q := func(mode, token, challenge string) map[string][]string {
		return map[string][]string{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
	}
	tests := []struct {
		name   string
		app    sdk.App
		query  map[string][]string
		status int
	}{
		{"Match", sdk.App{VerifyToken: "vt"}, q("subscribe", "vt", "1158201444"), 200},
		{"MatchFromSettings", sdk.App{Settings: map[string]string{whatsapp.SettingVerifyToken: "vt"}}, q("subscribe", "vt", "1158201444"), 200},
		{"WrongToken", sdk.App{VerifyToken: "vt"}, q("subscribe", "nope", "1158201444"), 403},
		{"WrongMode", sdk.App{VerifyToken: "vt"}, q("unsubscribe", "vt", "1158201444"), 403},
		{"NoQuery", sdk.App{VerifyToken: "vt"}, nil, 403},
		{"EmptyConfiguredToken", sdk.App{}, q("subscribe", "", "1158201444"), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := whatsapp.New().VerifySubscription(context.Background(), &sdk.VerifyRequest{App: tt.app, Query: tt.query})
			require.NoError(t, err)
			require.Equal(t, tt.status, res.StatusCode)
			require.Equal(t, "text/plain", res.ContentType)
			if tt.status == 200 {
				require.Equal(t, "1158201444", string(res.Body), "the raw challenge")
			} else {
				require.NotContains(t, string(res.Body), "1158201444")
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()

	d, err := whatsapp.New().Describe(context.Background())
	require.NoError(t, err)
	require.Equal(t, "whatsapp", d.Name)
	require.Equal(t, []string{"whatsapp"}, d.Platforms)
	require.Equal(t, "phone_number_id", d.AccountIDLabel)
	require.ElementsMatch(t, []sdk.Capability{sdk.CapWebhook, sdk.CapVerifySubscription, sdk.CapDirectMessage, sdk.CapTemplates, sdk.CapValidate,
		sdk.CapMediaFetch, sdk.CapListTemplates}, d.Capabilities)
	secrets := map[string]bool{}
	for _, f := range d.ConfigSchema {
		secrets[f.Name] = f.Secret
	}
	require.Equal(t, map[string]bool{"app_secret": true, "verify_token": true, "api_base_url": false,
		"upload_media": false, "allow_private_media_urls": false}, secrets)
}

func TestUnsupportedSurfaces(t *testing.T) {
	t.Parallel()

	c := whatsapp.New()
	ctx := context.Background()
	_, err := c.RefreshCredentials(ctx, &sdk.CredentialsRequest{})
	require.ErrorIs(t, err, sdk.ErrUnsupported)
	require.ErrorContains(t, err, "no refresh endpoint")
	require.ErrorIs(t, c.Revoke(ctx, &sdk.CredentialsRequest{}), sdk.ErrUnsupported)
	_, err = c.Publish(ctx, &sdk.PublishRequest{})
	require.ErrorIs(t, err, sdk.ErrUnsupported)
	_, err = c.Sync(ctx, &sdk.SyncRequest{})
	require.ErrorIs(t, err, sdk.ErrUnsupported)
}
