package whatsapp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp"
	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const (
	token      = "EAAG-system-user-token"
	otherPhone = "300000000000002"
	otherToken = "EAAG-other-token"
)

type testBundle struct {
	conn sdk.Connector
	emu  *sandbox.Server
	app  sdk.App
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	emu := sandbox.New()
	emu.AddNumber(phoneID, "+1 555-078-3881", "Lucky Shrub", token)
	emu.AddNumber(otherPhone, "+44 20 7183 8750", "Other Shop", otherToken)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{
		conn: whatsapp.New(whatsapp.WithHTTPClient(srv.Client())),
		emu:  emu,
		app:  sdk.App{APIBaseURL: srv.URL + "/v21.0", ClientSecret: appSecret},
	}
}

func (b *testBundle) send(req sdk.SendRequest) (*sdk.SendResult, error) {
	req.App = b.app
	if req.Credentials.AccessToken == "" {
		req.Credentials.AccessToken = token
	}
	if req.AccountID == "" {
		req.AccountID = phoneID
	}
	if req.Kind == "" {
		req.Kind = sdk.SendDirect
	}
	if req.RecipientID == "" {
		req.RecipientID = customer
	}
	return b.conn.Send(context.Background(), &req)
}

func TestSendText(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res, err := b.send(sdk.SendRequest{Text: "It comes in blue and green.", ReplyToID: "wamid.IN1"})
	require.NoError(t, err)
	require.Equal(t, sdk.StatusSent, res.Status)

	sent := b.emu.Sent()
	require.Len(t, sent, 1)
	s := sent[0]
	require.Equal(t, res.ExternalID, s.ID, "the wamid the platform answered")
	require.Equal(t, phoneID, s.PhoneNumberID)
	require.Equal(t, customer, s.To)
	require.Equal(t, "text", s.Type)
	require.Equal(t, "It comes in blue and green.", s.Text)
	require.Equal(t, "wamid.IN1", s.ReplyToID)
	require.JSONEq(t, `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
		"context":{"message_id":"wamid.IN1"},"text":{"body":"It comes in blue and green."}}`, string(s.Body))
}

func TestSendRecipientFromThread(t *testing.T) {
	t.Parallel()
	b := setup(t)

	_, err := b.conn.Send(context.Background(), &sdk.SendRequest{
		App: b.app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID,
		Kind: sdk.SendDirect, ThreadID: "447700900123", Text: "hi",
	})
	require.NoError(t, err)
	require.Equal(t, "447700900123", b.emu.Sent()[0].To)
}

func TestSendTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)

	comps := `[{"type":"body","parameters":[{"type":"text","text":"Sheena"}]}]`
	res, err := b.send(sdk.SendRequest{
		Text:     "ignored: the template's approved body is sent",
		Template: &sdk.Template{Name: "order_update", Language: "en_US", ComponentsJSON: []byte(comps)},
	})
	require.NoError(t, err)
	s := b.emu.Sent()[0]
	require.Equal(t, res.ExternalID, s.ID)
	require.Equal(t, "template", s.Type)
	require.Equal(t, "order_update", s.Template.Name)
	require.Equal(t, "en_US", s.Template.Language)
	require.JSONEq(t, comps, string(s.Template.Components))
	require.NotContains(t, string(s.Body), "ignored")
}

func TestSendMedia(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		req  sdk.SendRequest
		want sandbox.Media
	}{
		{"ImageTextIsCaption", sdk.SendRequest{Text: "Here it is in blue", Attachments: []sdk.Attachment{{Type: "image", URL: "https://cdn.example/blue.jpg"}}},
			sandbox.Media{Type: "image", Link: "https://cdn.example/blue.jpg", Caption: "Here it is in blue"}},
		{"DocumentFromFile", sdk.SendRequest{Attachments: []sdk.Attachment{{Type: "file", URL: "https://cdn.example/i.pdf", Name: "invoice.pdf", Caption: "Your invoice"}}},
			sandbox.Media{Type: "document", Link: "https://cdn.example/i.pdf", Caption: "Your invoice", Filename: "invoice.pdf"}},
		{"VideoByMime", sdk.SendRequest{Attachments: []sdk.Attachment{{MimeType: "video/mp4", URL: "https://cdn.example/v.mp4"}}},
			sandbox.Media{Type: "video", Link: "https://cdn.example/v.mp4"}},
		{"AudioByMediaID", sdk.SendRequest{Attachments: []sdk.Attachment{{Type: "audio", ExternalID: "1013859600285441"}}},
			sandbox.Media{Type: "audio", ID: "1013859600285441"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.send(tt.req)
			require.NoError(t, err)
			s := b.emu.Sent()[0]
			require.Equal(t, tt.want.Type, s.Type)
			require.Equal(t, &tt.want, s.Media)
		})
	}
}

// Requests the platform would refuse are refused before any call.
func TestSendRejectedLocally(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		req   sdk.SendRequest
		class sdk.ErrorClass
		msg   string
	}{
		{"TextTooLong", sdk.SendRequest{Text: strings.Repeat("é", whatsapp.MaxTextLength+1)}, sdk.ClassPermanent, "limit is 4096"},
		{"CommentKind", sdk.SendRequest{Kind: sdk.SendCommentPublic, Text: "x"}, sdk.ClassPermanent, "direct messages only"},
		{"ReviewKind", sdk.SendRequest{Kind: sdk.SendReviewReply, Text: "x"}, sdk.ClassPermanent, "not supported"},
		{"Empty", sdk.SendRequest{Text: "  "}, sdk.ClassPermanent, "nothing to send"},
		{"TwoAttachments", sdk.SendRequest{Attachments: []sdk.Attachment{{Type: "image", URL: "https://cdn.example.com/1"}, {Type: "image", URL: "https://cdn.example.com/2"}}}, sdk.ClassPermanent, "one media"},
		{"AudioWithText", sdk.SendRequest{Text: "listen", Attachments: []sdk.Attachment{{Type: "audio", URL: "https://cdn.example.com/1.ogg"}}}, sdk.ClassPermanent, "carry no text"},
		{"NonHTTPMedia", sdk.SendRequest{Attachments: []sdk.Attachment{{Type: "image", URL: "file:///etc/passwd"}}}, sdk.ClassPermanent, "http(s) URL"},
		{"UnknownAttachment", sdk.SendRequest{Attachments: []sdk.Attachment{{Type: "hologram", URL: "https://cdn.example.com/1"}}}, sdk.ClassPermanent, "cannot be sent"},
		{"TemplateWithoutLanguage", sdk.SendRequest{Template: &sdk.Template{Name: "t"}}, sdk.ClassPermanent, "language"},
		{"TemplateBadComponents", sdk.SendRequest{Template: &sdk.Template{Name: "t", Language: "en", ComponentsJSON: []byte(`{"type":"body"}`)}}, sdk.ClassPermanent, "JSON array"},
		{"NoToken", sdk.SendRequest{Text: "x", Credentials: sdk.Credentials{AccessToken: ""}}, sdk.ClassAuthRevoked, "no access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := tt.req
			if tt.name == "NoToken" {
				req.App, req.AccountID, req.Kind, req.RecipientID = b.app, phoneID, sdk.SendDirect, customer
				_, err := b.conn.Send(context.Background(), &req)
				require.Equal(t, tt.class, sdk.ClassOf(err))
				require.ErrorContains(t, err, tt.msg)
				return
			}
			res, err := b.send(req)
			require.Nil(t, res)
			require.Equal(t, tt.class, sdk.ClassOf(err))
			require.ErrorContains(t, err, tt.msg)
			require.Empty(t, b.emu.Sent())
		})
	}

	t.Run("MaxLengthIsAccepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.send(sdk.SendRequest{Text: strings.Repeat("é", whatsapp.MaxTextLength)})
		require.NoError(t, err)
	})
}

func TestSendErrorClasses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		fail       sandbox.Failure
		class      sdk.ErrorClass
		code       string
		retryAfter time.Duration
	}{
		{"WindowClosed", sandbox.Failure{HTTPStatus: 400, Code: 131047, Message: "(#131047) Re-engagement message"}, sdk.ClassWindowClosed, "131047", 0},
		{"Throughput", sandbox.Failure{HTTPStatus: 400, Code: 130429, Message: "(#130429) Rate limit hit"}, sdk.ClassRetryable, "130429", 0},
		{"PairRate", sandbox.Failure{HTTPStatus: 400, Code: 131056, Message: "(#131056) Pair rate limit hit"}, sdk.ClassRetryable, "131056", 0},
		{"AppRateLimit", sandbox.Failure{HTTPStatus: 400, Code: 4, Message: "(#4) Application request limit reached"}, sdk.ClassRetryable, "4", 0},
		{"WABARateLimit", sandbox.Failure{HTTPStatus: 400, Code: 80007, Message: "(#80007) Rate limit issues"}, sdk.ClassRetryable, "80007", 0},
		{"HTTP429RetryAfter", sandbox.Failure{HTTPStatus: 429, Code: 130429, Message: "slow down", RetryAfter: 7 * time.Second}, sdk.ClassRetryable, "130429", 7 * time.Second},
		{"HTTP429Plain", sandbox.Failure{HTTPStatus: 429, RetryAfter: 3 * time.Second}, sdk.ClassRetryable, "", 3 * time.Second},
		{"HTTP500Plain", sandbox.Failure{HTTPStatus: 500, Message: "<html>oops</html>"}, sdk.ClassRetryable, "", 0},
		{"HTTP503UnknownCode", sandbox.Failure{HTTPStatus: 503, Code: 999999, Message: "busy"}, sdk.ClassRetryable, "999999", 0},
		{"TokenExpired", sandbox.Failure{HTTPStatus: 401, Code: 190, Message: "Error validating access token: Session has expired"}, sdk.ClassAuthRevoked, "190", 0},
		{"TokenInvalidOn400", sandbox.Failure{HTTPStatus: 400, Code: 190, Message: "Invalid OAuth access token"}, sdk.ClassAuthRevoked, "190", 0},
		{"PermissionDenied", sandbox.Failure{HTTPStatus: 403, Code: 10, Message: "(#10) Application does not have permission"}, sdk.ClassAuthRevoked, "10", 0},
		{"HTTP401NoCode", sandbox.Failure{HTTPStatus: 401}, sdk.ClassAuthRevoked, "", 0},
		{"Undeliverable", sandbox.Failure{HTTPStatus: 400, Code: 131026, Message: "Message undeliverable"}, sdk.ClassPermanent, "131026", 0},
		{"InvalidParameter", sandbox.Failure{HTTPStatus: 400, Code: 100, Message: "(#100) Invalid parameter"}, sdk.ClassPermanent, "100", 0},
		{"Other4xx", sandbox.Failure{HTTPStatus: 404}, sdk.ClassPermanent, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.emu.FailNextWith(1, tt.fail)
			res, err := b.send(sdk.SendRequest{Text: "hello"})
			require.Nil(t, res)
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.class, se.Class, se.Error())
			require.Equal(t, tt.code, se.Code)
			require.Equal(t, tt.retryAfter, se.RetryAfter)
			require.Empty(t, b.emu.Sent())

			// The failure was for one request only.
			_, err = b.send(sdk.SendRequest{Text: "hello"})
			require.NoError(t, err)
			require.Len(t, b.emu.Sent(), 1)
		})
	}
}

func TestSendErrorMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)

	b.emu.FailNextWith(1, sandbox.Failure{HTTPStatus: 400, Code: 131026, Subcode: 2494010, Message: "Message undeliverable", Details: "Recipient is not a WhatsApp user"})
	_, err := b.send(sdk.SendRequest{Text: "hello"})
	require.ErrorContains(t, err, "Message undeliverable: Recipient is not a WhatsApp user")
	require.ErrorContains(t, err, "subcode 2494010")
	require.ErrorContains(t, err, "fbtrace_id")
	require.NotContains(t, err.Error(), token, "no secrets in errors")
}

func TestSendWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)

	b.emu.CloseWindow(customer)
	_, err := b.send(sdk.SendRequest{Text: "are you still there?"})
	require.ErrorIs(t, err, sdk.ErrWindowClosed)
	require.Empty(t, b.emu.Sent())

	_, err = b.send(sdk.SendRequest{Template: &sdk.Template{Name: "follow_up", Language: "en_US"}})
	require.NoError(t, err, "templates go through a closed window")

	b.emu.OpenWindow(customer)
	_, err = b.send(sdk.SendRequest{Text: "thanks for writing back"})
	require.NoError(t, err)
	require.Len(t, b.emu.Sent(), 2)
}

func TestSendAuth(t *testing.T) {
	t.Parallel()

	t.Run("UnknownToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.send(sdk.SendRequest{Text: "x", Credentials: sdk.Credentials{AccessToken: "revoked"}})
		require.ErrorIs(t, err, sdk.ErrAuthRevoked)
	})
	t.Run("TokenOfAnotherNumber", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.send(sdk.SendRequest{Text: "x", Credentials: sdk.Credentials{AccessToken: otherToken}})
		require.ErrorIs(t, err, sdk.ErrPermanent)
		require.ErrorContains(t, err, "does not exist")
	})
	t.Run("OtherNumberWithItsToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.send(sdk.SendRequest{Text: "x", AccountID: otherPhone, Credentials: sdk.Credentials{AccessToken: otherToken}})
		require.NoError(t, err)
		require.Equal(t, otherPhone, b.emu.Sent()[0].PhoneNumberID)
	})
}

func TestSendNetworkErrors(t *testing.T) {
	t.Parallel()

	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		_, err := whatsapp.New().Send(context.Background(), &sdk.SendRequest{
			App: sdk.App{APIBaseURL: srv.URL}, Credentials: sdk.Credentials{AccessToken: token},
			AccountID: phoneID, Kind: sdk.SendDirect, RecipientID: customer, Text: "x",
		})
		require.ErrorIs(t, err, sdk.ErrRetryable)
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.conn.Send(ctx, &sdk.SendRequest{
			App: b.app, Credentials: sdk.Credentials{AccessToken: token},
			AccountID: phoneID, Kind: sdk.SendDirect, RecipientID: customer, Text: "x",
		})
		require.ErrorIs(t, err, sdk.ErrRetryable)
		require.Empty(t, b.emu.Sent())
	})
	t.Run("UnreadableSuccess", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html>captive portal</html>"))
		}))
		t.Cleanup(srv.Close)
		_, err := whatsapp.New().Send(context.Background(), &sdk.SendRequest{
			App: sdk.App{APIBaseURL: srv.URL}, Credentials: sdk.Credentials{AccessToken: token},
			AccountID: phoneID, Kind: sdk.SendDirect, RecipientID: customer, Text: "x",
		})
		require.ErrorIs(t, err, sdk.ErrRetryable)
	})
}

// Meta's usage headers and HTTP-date Retry-After values are not produced by
// the emulator, so a bare handler serves them.
func TestSendRetryAfterHeaders(t *testing.T) {
	t.Parallel()

	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"HTTPDate", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{"PastDate", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{"BusinessUseCaseUsage", http.Header{"X-Business-Use-Case-Usage": {`{"102290129340398":[{"type":"whatsapp","call_count":100,"estimated_time_to_regain_access":5}]}`}}, 5 * time.Minute},
		{"Garbage", http.Header{"Retry-After": {"soon"}, "X-Business-Use-Case-Usage": {"{"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"(#80007) Rate limit issues","type":"OAuthException","code":80007}}`))
			}))
			t.Cleanup(srv.Close)
			c := whatsapp.New(whatsapp.WithClock(func() time.Time { return now }))
			_, err := c.Send(context.Background(), &sdk.SendRequest{
				App: sdk.App{APIBaseURL: srv.URL}, Credentials: sdk.Credentials{AccessToken: token},
				AccountID: phoneID, Kind: sdk.SendDirect, RecipientID: customer, Text: "x",
			})
			var se *sdk.Error
			require.ErrorAs(t, err, &se)
			require.Equal(t, sdk.ClassRetryable, se.Class)
			require.Equal(t, tt.want, se.RetryAfter)
		})
	}
}

func TestSendConcurrentAndWaitSent(t *testing.T) {
	t.Parallel()
	b := setup(t)

	const n = 8
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for range n {
		wg.Go(func() {
			res, err := b.send(sdk.SendRequest{Text: "hi"})
			if err == nil {
				ids <- res.ExternalID
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent, err := b.emu.WaitSent(ctx, n)
	require.NoError(t, err)
	wg.Wait()
	close(ids)
	require.Len(t, sent, n)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	require.Len(t, seen, n, "every send gets its own wamid")
	for _, s := range sent {
		require.True(t, seen[s.ID])
	}
}

func TestValidateCredentials(t *testing.T) {
	t.Parallel()

	t.Run("Good", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		info, err := b.conn.ValidateCredentials(context.Background(), &sdk.CredentialsRequest{
			App: b.app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID,
		})
		require.NoError(t, err)
		require.Equal(t, &sdk.AccountInfo{AccountID: phoneID, Name: "Lucky Shrub", Platform: "whatsapp"}, info)
	})
	t.Run("BadToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.ValidateCredentials(context.Background(), &sdk.CredentialsRequest{
			App: b.app, Credentials: sdk.Credentials{AccessToken: "nope"}, AccountID: phoneID,
		})
		require.ErrorIs(t, err, sdk.ErrAuthRevoked)
	})
	t.Run("UnknownNumber", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.ValidateCredentials(context.Background(), &sdk.CredentialsRequest{
			App: b.app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: "999",
		})
		require.ErrorIs(t, err, sdk.ErrPermanent)
	})
	t.Run("NoAccountID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.conn.ValidateCredentials(context.Background(), &sdk.CredentialsRequest{
			App: b.app, Credentials: sdk.Credentials{AccessToken: token},
		})
		require.ErrorIs(t, err, sdk.ErrPermanent)
	})
	t.Run("Outage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.emu.FailNext(1, http.StatusServiceUnavailable, 2, "Service temporarily unavailable")
		_, err := b.conn.ValidateCredentials(context.Background(), &sdk.CredentialsRequest{
			App: b.app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID,
		})
		require.ErrorIs(t, err, sdk.ErrRetryable)
	})
	t.Run("DisplayNumberWhenUnverified", func(t *testing.T) {
		t.Parallel()
		emu := sandbox.New()
		emu.AddNumber(phoneID, "+1 555-078-3881", "", token)
		srv := httptest.NewServer(emu.Handler())
		t.Cleanup(srv.Close)
		info, err := whatsapp.New().ValidateCredentials(context.Background(), &sdk.CredentialsRequest{
			App: sdk.App{APIBaseURL: srv.URL}, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID,
		})
		require.NoError(t, err)
		require.Equal(t, "+1 555-078-3881", info.Name)
	})
}
