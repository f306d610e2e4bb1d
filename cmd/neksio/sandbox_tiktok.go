package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	ttsandbox "github.com/neksio/neksio/plugins/tiktok/sandbox"
)

// tiktokSandboxFlags configure the TikTok emulator of `neksio sandbox`.
type tiktokSandboxFlags struct {
	openID, username, clientKey, clientSecret string
}

func (f *tiktokSandboxFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.openID, "tiktok-open-id", "tiktok-sandbox-business", "the emulated TikTok account's open_id (the channel's externalId)")
	fs.StringVar(&f.username, "tiktok-username", "sandbox_shop", "its @handle")
	fs.StringVar(&f.clientKey, "tiktok-client-key", cmp.Or(os.Getenv("NEKSIO_TIKTOK_CLIENT_KEY"), ttsandbox.DefaultClientKey),
		"the TikTok app's client key the emulator accepts")
	fs.StringVar(&f.clientSecret, "tiktok-client-secret", cmp.Or(os.Getenv("NEKSIO_TIKTOK_CLIENT_SECRET"), ttsandbox.DefaultClientSecret),
		"the client secret it accepts and signs its webhooks with")
}

// tiktokSandbox builds the TikTok emulator with one account, a video to
// comment on, and tokens to connect it with. Like TikTok, it posts signed
// webhooks to the server on its own: echoes of the messages sent, comment
// changes, publication outcomes, removed authorizations.
func (f *tiktokSandboxFlags) build(neksioURL string) (srv *ttsandbox.Server, toks ttsandbox.Tokens, videoID string, err error) {
	opts := []ttsandbox.Option{ttsandbox.WithApp(f.clientKey, f.clientSecret), ttsandbox.WithCommentWebhooks()}
	if neksioURL != "" {
		opts = append(opts, ttsandbox.WithWebhookURL(strings.TrimRight(neksioURL, "/")+"/webhooks/tiktok", http.DefaultClient))
	}
	srv = ttsandbox.New(opts...)
	srv.AddAccount(ttsandbox.Account{OpenID: f.openID, DisplayName: "Sandbox Shop", Username: f.username})
	videoID, err = srv.AddVideo(f.openID, "Our new mug collection")
	return srv, srv.Grant(f.openID), videoID, err
}

// tiktokSandboxHelp is what `neksio sandbox` prints about TikTok.
func tiktokSandboxHelp(base string, f *tiktokSandboxFlags, toks ttsandbox.Tokens, videoID string) string {
	tt := base + "/tiktok"
	return fmt.Sprintf(`TikTok (client key %[2]s; the server needs the same key and secret):
  NEKSIO_TIKTOK_CLIENT_KEY=%[2]s NEKSIO_TIKTOK_CLIENT_SECRET=%[3]s
  NEKSIO_TIKTOK_API_BASE_URL=%[1]s
  NEKSIO_TIKTOK_BUSINESS_API_BASE_URL=%[1]s/open_api/v1.3
  NEKSIO_TIKTOK_AUTH_URL=%[1]s/v2/auth/authorize/  NEKSIO_TIKTOK_ALLOW_PRIVATE_MEDIA_URLS=true
  tiktok    externalId %[4]s  credentials {accessToken: "%[5]s", refreshToken: "%[6]s", expiresAt: "%[7]s"}
  a video to comment on: %[8]s   (neksio simulate tiktok --kind dm|comment --account %[4]s --sandbox-url %[1]s)
  what was sent: GET %[1]s/_sandbox/tiktok/sent
`, tt, f.clientKey, f.clientSecret, f.openID, toks.AccessToken, toks.RefreshToken,
		time.Now().Add(time.Duration(toks.ExpiresIn)*time.Second).UTC().Format(time.RFC3339), videoID)
}

// tiktokSimulation is what `neksio simulate tiktok` takes.
type tiktokSimulation struct {
	url, sandboxURL, secret, clientKey string
	kind, account, from, name, text    string
	video, parent                      string
}

// simulateTikTok creates customer traffic. A DM is a signed im_receive_msg
// posted to the server (the emulator is told first, so replies are in the
// window). A comment is added through the emulator's control endpoint:
// the server reads it on its next sync, or at once when the emulator
// posts comment.update to it (as `neksio sandbox` does).
func simulateTikTok(ctx context.Context, out io.Writer, s tiktokSimulation) error {
	if s.account == "" {
		return fmt.Errorf("--account is required (the TikTok open_id of the connected channel)")
	}
	control := func(what string, in, answer any) error {
		if s.sandboxURL == "" {
			return fmt.Errorf("--sandbox-url is required (the TikTok emulator, e.g. http://127.0.0.1:8090/tiktok)")
		}
		b, _ := json.Marshal(in)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.sandboxURL, "/")+"/_sandbox/tiktok/"+what, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("the emulator: %w", err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the emulator answered %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
		}
		if answer != nil {
			return json.Unmarshal(raw, answer)
		}
		return nil
	}
	switch s.kind {
	case "dm":
		if s.secret == "" {
			return fmt.Errorf("no client secret: pass --app-secret or set NEKSIO_TIKTOK_CLIENT_SECRET")
		}
		body := ttsandbox.DM{ClientKey: s.clientKey, BusinessID: s.account, CustomerID: s.from, CustomerName: s.name, Text: s.text}.Body()
		if s.sandboxURL != "" {
			var raw json.RawMessage = body
			if err := control("observe", raw, nil); err != nil {
				return err
			}
		}
		code, resp, err := ttsandbox.Deliver(ctx, http.DefaultClient, strings.TrimRight(s.url, "/")+"/webhooks/tiktok", s.secret, body)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d %s\n", code, strings.TrimSpace(string(resp)))
		if code != http.StatusOK {
			return fmt.Errorf("server answered %d", code)
		}
		return nil
	case "comment":
		video := s.video
		if video == "" {
			var v struct {
				VideoID string `json:"video_id"`
			}
			if err := control("videos", map[string]string{"business_id": s.account, "caption": "Sandbox video"}, &v); err != nil {
				return err
			}
			video = v.VideoID
		}
		var c struct {
			CommentID string `json:"comment_id"`
		}
		if err := control("comments", map[string]string{"video_id": video, "parent_id": s.parent, "user_id": s.from,
			"username": s.from, "display_name": s.name, "text": s.text}, &c); err != nil {
			return err
		}
		fmt.Fprintf(out, "comment %s on video %s (the server reads it on its next sync, or at once through comment.update)\n", c.CommentID, video)
		return nil
	}
	return fmt.Errorf("--kind must be dm or comment")
}
