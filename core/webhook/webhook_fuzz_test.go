package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/webhook"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/tiktok"
)

const fuzzSecret = "fuzz-client-secret"

// FuzzTikTokWebhook feeds correctly signed bodies through the whole
// webhook path (the TikTok connector, routing, ingestion in one
// transaction): whatever the body, the answer is 200 or 400, never a 5xx
// or a panic, and a refused body stores nothing.
func FuzzTikTokWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "plugins", "tiktok", "testdata", "*.json"))
	require.NoError(f, err)
	require.NotEmpty(f, files)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"event":"im_send_msg","user_openid":"0b7c2f1e-5d7a-4a8e-9c3b-b1d2e3f4a5b6","content":"{\"conversation_id\":\"c\",\"message_id\":\"m\",\"to_user\":{\"id\":\"\"}}"}`))
	f.Add([]byte(`{"event":"comment.update","user_openid":"0b7c2f1e-5d7a-4a8e-9c3b-b1d2e3f4a5b6","content":"{\"comment_id\":1,\"video_id\":2,\"comment_action\":\"set_to_hidden\"}"}`))

	s := storetest.Open(f, storetest.SQLite)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(f, err)
	gw := testenv.Gateway(tiktok.New())
	channels := &channel.Service{Store: s, Box: box, Gateway: gw,
		Apps: func(string) sdk.App { return sdk.App{ClientSecret: fuzzSecret} }}
	in := &inbox.Service{Store: s, Gateway: gw, Channels: channels}
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "fuzz")
	require.NoError(f, err)
	sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
	_, err = s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector("tiktok").SetPlatform("tiktok").
		SetExternalID("0b7c2f1e-5d7a-4a8e-9c3b-b1d2e3f4a5b6").SetName("fuzz").Save(sys)
	require.NoError(f, err)
	mux := http.NewServeMux()
	(&webhook.Handler{Store: s, Gateway: gw, Channels: channels, Inbox: in, MaxBytes: 1 << 20}).Register(mux, nil)
	count := func(t *testing.T) int {
		n, err := s.Ent.Message.Query().Count(sys)
		require.NoError(t, err)
		return n
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		before := count(t)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/tiktok", bytes.NewReader(body))
		req.Header.Set("Tiktok-Signature", sdk.TikTokSignature(fuzzSecret, time.Now(), body))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, rec.Code, "%s", rec.Body)
		if rec.Code != http.StatusOK {
			require.Equal(t, before, count(t), "a refused delivery stored something")
		}
	})
}
