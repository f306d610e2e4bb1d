package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const (
	phoneID = "106540352242922"
	token   = "tok"
)

type testBundle struct {
	emu *sandbox.Server
	srv *httptest.Server
}

func setup(t *testing.T, opts ...sandbox.Option) *testBundle {
	t.Helper()
	emu := sandbox.New(opts...)
	emu.AddNumber(phoneID, "+1 555-078-3881", "Lucky Shrub", token)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{emu: emu, srv: srv}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (b *testBundle) do(t *testing.T, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func errorCode(t *testing.T, a answer) float64 {
	t.Helper()
	e, ok := a.body["error"].(map[string]any)
	require.True(t, ok, "graph error body: %s", a.raw)
	require.NotEmpty(t, e["message"])
	require.NotEmpty(t, e["fbtrace_id"])
	return e["code"].(float64)
}

func TestSendShape(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, path := range []string{"/" + phoneID + "/messages", "/v21.0/" + phoneID + "/messages", "/v19.0/" + phoneID + "/messages/"} {
		a := b.do(t, "POST", path, "Bearer "+token, `{"messaging_product":"whatsapp","to":"+1 650-555-1234","type":"text","text":{"body":"hi"}}`)
		require.Equal(t, 200, a.status, a.raw)
		require.Equal(t, "whatsapp", a.body["messaging_product"])
		require.Equal(t, []any{map[string]any{"input": "+1 650-555-1234", "wa_id": "16505551234"}}, a.body["contacts"])
		msgs := a.body["messages"].([]any)
		require.Len(t, msgs, 1)
		require.Regexp(t, `^wamid\.`, msgs[0].(map[string]any)["id"])
	}
	sent := b.emu.Sent()
	require.Len(t, sent, 3)
	require.NotEqual(t, sent[0].ID, sent[1].ID)
	require.Equal(t, "16505551234", sent[0].WaID)
}

func TestSendValidation(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		body   string
		status int
		code   float64
	}{
		{"NotJSON", `{`, 400, 100},
		{"NoProduct", `{"to":"1","type":"text","text":{"body":"x"}}`, 400, 100},
		{"WrongProduct", `{"messaging_product":"messenger","to":"1","type":"text","text":{"body":"x"}}`, 400, 100},
		{"NoTo", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, 400, 100},
		{"ToNotANumber", `{"messaging_product":"whatsapp","to":"bob","type":"text","text":{"body":"x"}}`, 400, 131009},
		{"NoBody", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{}}`, 400, 131008},
		{"BodyTooLong", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + strings.Repeat("a", sandbox.MaxTextLength+1) + `"}}`, 400, 100},
		{"UnknownType", `{"messaging_product":"whatsapp","to":"1","type":"fax"}`, 400, 100},
		{"TemplateNoLanguage", `{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"t"}}`, 400, 131008},
		{"MediaIDAndLink", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"1","link":"https://a/b"}}`, 400, 131009},
		{"MediaBadLink", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"link":"ftp://a/b"}}`, 400, 131009},
		{"EmptyContext", `{"messaging_product":"whatsapp","to":"1","context":{},"text":{"body":"x"}}`, 400, 131008},
		{"GroupRecipient", `{"messaging_product":"whatsapp","recipient_type":"group","to":"1","text":{"body":"x"}}`, 400, 100},
		{"DefaultTypeIsText", `{"messaging_product":"whatsapp","to":"1","text":{"body":"x"}}`, 200, 0},
		{"MaxLengthBody", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + strings.Repeat("é", sandbox.MaxTextLength) + `"}}`, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			a := b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer "+token, tt.body)
			require.Equal(t, tt.status, a.status, a.raw)
			if tt.status == 200 {
				require.Len(t, b.emu.Sent(), 1)
				return
			}
			require.Equal(t, tt.code, errorCode(t, a))
			require.Empty(t, b.emu.Sent(), "rejected sends are not recorded")
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.emu.AddNumber("222", "+2", "Other", "other")
	body := `{"messaging_product":"whatsapp","to":"1","text":{"body":"x"}}`

	a := b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "", body)
	require.Equal(t, 400, a.status)
	require.Equal(t, float64(2500), errorCode(t, a))

	a = b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer nope", body)
	require.Equal(t, 401, a.status)
	require.Equal(t, float64(190), errorCode(t, a))
	require.Contains(t, a.header.Get("WWW-Authenticate"), "invalid_token")

	a = b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer other", body)
	require.Equal(t, 400, a.status)
	require.Equal(t, float64(100), errorCode(t, a))
	require.Equal(t, float64(33), a.body["error"].(map[string]any)["error_subcode"])

	a = b.do(t, "POST", "/v21.0/"+phoneID+"/messages?access_token="+token, "", body)
	require.Equal(t, 200, a.status, "token in the query, as Graph allows")
}

func TestPhoneNumber(t *testing.T) {
	t.Parallel()
	b := setup(t)

	a := b.do(t, "GET", "/v21.0/"+phoneID+"?fields=display_phone_number,verified_name", "Bearer "+token, "")
	require.Equal(t, 200, a.status)
	require.Equal(t, map[string]any{"id": phoneID, "display_phone_number": "+1 555-078-3881", "verified_name": "Lucky Shrub"}, a.body)

	a = b.do(t, "GET", "/"+phoneID, "Bearer "+token, "")
	require.Equal(t, 200, a.status)
	require.Equal(t, "GREEN", a.body["quality_rating"])

	a = b.do(t, "GET", "/v21.0/"+phoneID+"?fields=colour", "Bearer "+token, "")
	require.Equal(t, 400, a.status)
	require.Equal(t, float64(100), errorCode(t, a))

	a = b.do(t, "GET", "/v21.0/"+phoneID+"/messages", "Bearer "+token, "")
	require.Equal(t, 400, a.status)
	a = b.do(t, "POST", "/v21.0/"+phoneID+"/media/extra", "Bearer "+token, "")
	require.Equal(t, 400, a.status)
	require.Contains(t, a.raw, "Unknown path components")
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"messaging_product":"whatsapp","to":"1","text":{"body":"x"}}`

	b.emu.FailNext(2, 400, 131056, "(#131056) Pair rate limit hit")
	for range 2 {
		a := b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer "+token, body)
		require.Equal(t, 400, a.status)
		require.Equal(t, float64(131056), errorCode(t, a))
	}
	b.emu.FailNextWith(1, sandbox.Failure{HTTPStatus: 502, RetryAfter: 1500 * time.Millisecond})
	a := b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer "+token, body)
	require.Equal(t, 502, a.status)
	require.Equal(t, "Bad Gateway", a.raw, "code 0 answers plain text")
	require.Equal(t, "2", a.header.Get("Retry-After"), "rounded up to whole seconds")

	a = b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer "+token, body)
	require.Equal(t, 200, a.status)
	require.Len(t, b.emu.Sent(), 1)
}

func TestWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)

	b.emu.CloseWindow("+1 650 555 1234")
	a := b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer "+token, `{"messaging_product":"whatsapp","to":"16505551234","text":{"body":"x"}}`)
	require.Equal(t, 400, a.status)
	require.Equal(t, float64(131047), errorCode(t, a))
	a = b.do(t, "POST", "/v21.0/"+phoneID+"/messages", "Bearer "+token, `{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	require.Equal(t, 200, a.status)
	require.Equal(t, "accepted", a.body["messages"].([]any)[0].(map[string]any)["message_status"])
}

func TestWaitSentAndReset(t *testing.T) {
	t.Parallel()
	var hooked []string
	done := make(chan struct{}, 1)
	b := setup(t, sandbox.WithOnSend(func(m sandbox.SentMessage) {
		hooked = append(hooked, m.ID)
		done <- struct{}{}
	}))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.emu.WaitSent(ctx, 1)
	require.ErrorIs(t, err, context.Canceled)

	// No require in this goroutine: the waiting below is what is tested.
	go func() {
		req, _ := http.NewRequest("POST", b.srv.URL+"/v21.0/"+phoneID+"/messages",
			strings.NewReader(`{"messaging_product":"whatsapp","to":"1","text":{"body":"x"}}`))
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := b.srv.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent, err := b.emu.WaitSent(ctx, 1)
	require.NoError(t, err)
	require.Len(t, sent, 1)
	<-done
	require.Equal(t, []string{sent[0].ID}, hooked)

	b.emu.Reset()
	require.Empty(t, b.emu.Sent())
}

func TestWebhookBuilders(t *testing.T) {
	t.Parallel()

	body := sandbox.TextMessage(phoneID, "16505551234", "Sheena Nelson", "hello")
	var p struct {
		Object string `json:"object"`
		Entry  []struct {
			Changes []struct {
				Field string `json:"field"`
				Value struct {
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
					} `json:"metadata"`
					Messages []struct {
						ID        string `json:"id"`
						Timestamp string `json:"timestamp"`
						Text      struct {
							Body string `json:"body"`
						} `json:"text"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, "whatsapp_business_account", p.Object)
	v := p.Entry[0].Changes[0].Value
	require.Equal(t, "messages", p.Entry[0].Changes[0].Field)
	require.Equal(t, phoneID, v.Metadata.PhoneNumberID)
	require.Equal(t, "hello", v.Messages[0].Text.Body)
	require.Regexp(t, `^[0-9]{10}$`, v.Messages[0].Timestamp)

	type delivery struct {
		method, contentType string
		sigErr              error
	}
	got := make(chan delivery, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Method, r.Header.Get("Content-Type"), sdk.VerifyHubSignature256("secret", b, r.Header.Get("X-Hub-Signature-256"))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	status, answer, err := sandbox.Deliver(context.Background(), srv.Client(), srv.URL+"/webhooks/whatsapp", "secret", body)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	require.Equal(t, "ok", string(answer))
	d := <-got
	require.NoError(t, d.sigErr)
	require.Equal(t, "POST", d.method)
	require.Equal(t, "application/json", d.contentType)
}
