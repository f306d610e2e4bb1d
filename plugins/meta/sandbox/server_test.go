package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta/sandbox"
)

func setup(t *testing.T) (*sandbox.Server, *httptest.Server) {
	t.Helper()
	sb := sandbox.New()
	sb.AddPage("100", "Cafe", "tok")
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

func graphErrorCode(t *testing.T, resp *http.Response) int {
	t.Helper()
	var out struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Error.Code
}

func TestVersionPrefixAndFormParams(t *testing.T) {
	t.Parallel()
	sb, srv := setup(t)
	sb.Seen("100", "u1", time.Now())
	for _, prefix := range []string{"", "/v21.0", "/v19.0"} {
		form := url.Values{"access_token": {"tok"}, "messaging_type": {"RESPONSE"},
			"recipient": {`{"id":"u1"}`}, "message": {`{"text":"hi"}`}}
		resp, err := http.PostForm(srv.URL+prefix+"/100/messages", form)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, prefix)
	}
	require.Len(t, sb.SentMessages(), 3)
}

func TestAuthAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	_, srv := setup(t)

	resp, err := http.Get(srv.URL + "/me?access_token=nope")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 190, graphErrorCode(t, resp))

	resp2, err := http.Get(srv.URL + "/v21.0/me/unknown/edge?access_token=tok")
	require.NoError(t, err)
	defer resp2.Body.Close()
	require.Equal(t, 100, graphErrorCode(t, resp2))
}

func TestWaitSent(t *testing.T) {
	t.Parallel()
	sb, srv := setup(t)
	sb.Seen("100", "u1", time.Now())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sb.WaitSent(ctx, 1)
	require.ErrorIs(t, err, context.Canceled)

	done := make(chan []sandbox.Sent, 1)
	go func() {
		sent, err := sb.WaitSent(context.Background(), 1)
		if err == nil {
			done <- sent
		}
		close(done)
	}()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/100/messages",
		strings.NewReader(`{"recipient":{"id":"u1"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	sent := <-done
	require.Len(t, sent, 1)
	require.Equal(t, "hi", sent[0].Text)
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	sb, srv := setup(t)

	body := sandbox.MessengerText("100", "u2", "hello")
	resp, err := http.Post(srv.URL+"/_sandbox/observe", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Post(srv.URL+"/_sandbox/seen", "application/json", strings.NewReader(`{"account_id":"100","user_id":"u3"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	for _, user := range []string{"u2", "u3"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/100/messages",
			strings.NewReader(`{"recipient":{"id":"`+user+`"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, user)
	}

	resp, err = http.Get(srv.URL + "/_sandbox/sent")
	require.NoError(t, err)
	defer resp.Body.Close()
	var sent []sandbox.Sent
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sent))
	require.Len(t, sent, 2)
	require.Equal(t, 2, sb.Requests(), "control calls are not counted")
}

func TestDeliverSigns(t *testing.T) {
	t.Parallel()
	body := sandbox.InstagramDM("1", "2", "x")
	sig := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig <- r.Header.Get("X-Hub-Signature-256")
	}))
	t.Cleanup(srv.Close)
	resp, err := sandbox.Deliver(context.Background(), srv.Client(), srv.URL, "secret", body)
	require.NoError(t, err)
	resp.Body.Close()
	got := <-sig
	require.Equal(t, sandbox.Sign("secret", body), got)
	require.True(t, strings.HasPrefix(got, "sha256="))
}
