package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

func do(t *testing.T, method, url, tok, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func textTo(to string) io.Reader {
	return strings.NewReader(`{"messaging_product":"whatsapp","to":"` + to + `","type":"text","text":{"body":"hi"}}`)
}

// Another process (neksio simulate) reports customers through the control
// endpoints; a strict emulator then opens their window.
func TestWindowControlEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.WithWindowEnforced())
	send := func(to string) int {
		code, _ := do(t, http.MethodPost, b.srv.URL+"/v21.0/"+phoneID+"/messages", token, "application/json", textTo(to))
		return code
	}
	require.Equal(t, http.StatusBadRequest, send("16505550001"))

	body := sandbox.TextMessage(phoneID, "16505550001", "Ann", "hi")
	code, _ := do(t, http.MethodPost, b.srv.URL+"/_sandbox/observe", "", "application/json", bytes.NewReader(body))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, http.StatusOK, send("16505550001"))

	code, _ = do(t, http.MethodPost, b.srv.URL+"/_sandbox/seen", "", "application/json",
		strings.NewReader(`{"phone_number_id":"`+phoneID+`","wa_id":"16505550002","at":"`+time.Now().Add(-30*time.Hour).Format(time.RFC3339)+`"}`))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, http.StatusBadRequest, send("16505550002"), "seen 30 hours ago")

	// Control endpoints are never failed on purpose.
	b.emu.FailNext(1, http.StatusInternalServerError, 1, "boom")
	code, _ = do(t, http.MethodGet, b.srv.URL+"/_sandbox/sent", "", "", nil)
	require.Equal(t, http.StatusOK, code)
}

func upload(t *testing.T, url, tok, typ string, data []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("messaging_product", "whatsapp"))
	require.NoError(t, mw.WriteField("type", typ))
	fw, err := mw.CreateFormFile("file", "f")
	require.NoError(t, err)
	_, _ = fw.Write(data)
	require.NoError(t, mw.Close())
	return do(t, http.MethodPost, url, tok, mw.FormDataContentType(), &buf)
}

func TestUploadAndDownload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, body := upload(t, b.srv.URL+"/v21.0/"+phoneID+"/media", token, "image/png", []byte("png!"))
	require.Equal(t, http.StatusOK, code, string(body))
	var up struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &up))

	code, body = do(t, http.MethodGet, b.srv.URL+"/v21.0/"+up.ID+"?phone_number_id="+phoneID, token, "", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var info struct {
		URL      string `json:"url"`
		MimeType string `json:"mime_type"`
		FileSize int    `json:"file_size"`
	}
	require.NoError(t, json.Unmarshal(body, &info))
	require.Equal(t, "image/png", info.MimeType)
	require.Equal(t, 4, info.FileSize)
	code, data := do(t, http.MethodGet, info.URL, token, "", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "png!", string(data))
	code, _ = do(t, http.MethodGet, info.URL, "", "", nil)
	require.Equal(t, http.StatusUnauthorized, code, "the download needs the token")

	code, body = upload(t, b.srv.URL+"/v21.0/"+phoneID+"/media", token, "image/gif", []byte("GIF89a"))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), "131053")
	code, body = upload(t, b.srv.URL+"/v21.0/"+phoneID+"/media", token, "image/webp", make([]byte, 600<<10))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), "limited to")
	code, _ = upload(t, b.srv.URL+"/v21.0/"+phoneID+"/media", "wrong", "image/png", []byte("x"))
	require.Equal(t, http.StatusUnauthorized, code)
}
