package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	metasandbox "github.com/neksio/neksio/plugins/meta/sandbox"
	ttsandbox "github.com/neksio/neksio/plugins/tiktok/sandbox"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// sandboxCmd serves every connector's platform emulator on one address,
// each under its own prefix, for local development against `neksio serve`.
func sandboxCmd() *cobra.Command {
	var addr, waNumber, waToken, pageID, pageToken, igID, igToken, metaSecret, metaAppID, neksioURL, waSecret string
	var google googleSandbox
	var tt tiktokSandboxFlags
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve the platform emulators (WhatsApp Cloud API, Meta Graph API, Google Business Profile, TikTok) for local development",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var waOpts []wasandbox.Option
			if waSecret != "" && neksioURL != "" {
				// Like the platform, report each accepted message as
				// delivered to the server's webhook.
				hook := strings.TrimRight(neksioURL, "/") + "/webhooks/whatsapp"
				waOpts = append(waOpts, wasandbox.WithOnSend(func(m wasandbox.SentMessage) {
					go func() {
						body := wasandbox.StatusUpdate(m.PhoneNumberID, m.ID, m.WaID, "delivered")
						if code, _, err := wasandbox.Deliver(context.Background(), http.DefaultClient, hook, waSecret, body); err != nil || code != http.StatusOK {
							fmt.Fprintf(cmd.ErrOrStderr(), "sandbox: delivered status for %s: %d %v\n", m.ID, code, err)
						}
					}()
				}))
			}
			// Like the platform, free-form messages go only within 24 hours
			// of the customer's last message: `simulate whatsapp` tells the
			// emulator when the customer wrote.
			waOpts = append(waOpts, wasandbox.WithWindowEnforced())
			wa := wasandbox.New(waOpts...)
			wa.AddNumber(waNumber, "15550000000", "Sandbox number", waToken)
			addSandboxTemplates(wa)
			meta := metasandbox.New(metasandbox.WithAppSecret(metaSecret), metasandbox.WithAppID(metaAppID))
			meta.AddPage(pageID, "Sandbox Page", pageToken)
			meta.AddInstagramAccount(igID, "sandbox_shop", igToken)
			// Facebook Login: a person who manages the Page, which the
			// Instagram account is linked to.
			meta.AddUser(sandboxMetaUser, "Sandbox Owner", pageID)
			meta.LinkInstagram(pageID, igID)

			mux := http.NewServeMux()
			mux.Handle("/whatsapp/", http.StripPrefix("/whatsapp", wa.Handler()))
			mux.HandleFunc("GET /_sandbox/whatsapp/sent", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(wa.Sent())
			})
			mux.Handle("/meta/", http.StripPrefix("/meta", meta))
			if err := google.mount(mux, neksioURL); err != nil {
				return err
			}
			tiktok, ttTokens, ttVideo, err := tt.build(neksioURL)
			if err != nil {
				return err
			}
			mux.Handle("/tiktok/", http.StripPrefix("/tiktok", tiktok))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			base := "http://" + ln.Addr().String()
			fmt.Fprintf(cmd.OutOrStdout(), `Neksio sandbox on %[1]s. Point the server at it:

  NEKSIO_WHATSAPP_API_BASE_URL=%[1]s/whatsapp  NEKSIO_WHATSAPP_ALLOW_PRIVATE_MEDIA_URLS=true
  NEKSIO_META_API_BASE_URL=%[1]s/meta  NEKSIO_META_ALLOW_PRIVATE_MEDIA_URLS=true
  NEKSIO_META_APP_ID=%[10]s  NEKSIO_META_AUTH_URL=%[1]s/meta/v21.0/dialog/oauth
%[8]s
Connect with OAuth (meta, google, tiktok): startChannelAuthorization(connector: "meta") { url },
open the url in a browser (the emulator's consent page sends it back to the server's
/oauth/meta/callback), then channelAuthorization(id) { accounts { externalId } } and
connectChannel(input: {authorizationId, externalId}).
Or with connectChannel and a token:
  whatsapp  externalId %[2]s  credentials {accessToken: "%[3]s"}  (templates: hello_world, order_update)
  meta      externalId %[4]s (Facebook Page)  credentials {accessToken: "%[5]s"}
  meta      externalId %[6]s (Instagram)      credentials {accessToken: "%[7]s"}
%[9]s
What the connectors sent: GET %[1]s/_sandbox/whatsapp/sent, %[1]s/meta/_sandbox/sent, %[1]s/google/_sandbox/google/replies

`, base, waNumber, waToken, pageID, pageToken, igID, igToken, google.settings(base), google.connect(), metaAppID)
			fmt.Fprint(cmd.OutOrStdout(), tiktokSandboxHelp(base, &tt, ttTokens, ttVideo))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() { <-cmd.Context().Done(); _ = srv.Close() }()
			if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	f.StringVar(&waNumber, "whatsapp-phone-number-id", "106540352242922", "the emulated WhatsApp phone_number_id")
	f.StringVar(&waToken, "whatsapp-token", "sandbox-whatsapp-token", "its access token")
	f.StringVar(&pageID, "page-id", "1000000000001", "the emulated Facebook Page id")
	f.StringVar(&pageToken, "page-token", "sandbox-page-token", "its access token")
	f.StringVar(&igID, "instagram-id", "1780000000000001", "the emulated Instagram account id")
	f.StringVar(&igToken, "instagram-token", "sandbox-instagram-token", "its access token")
	f.StringVar(&metaSecret, "meta-app-secret", os.Getenv("NEKSIO_META_APP_SECRET"), "app secret for appsecret_proof checks and Facebook Login's token endpoint")
	f.StringVar(&metaAppID, "meta-app-id", cmp.Or(os.Getenv("NEKSIO_META_APP_ID"), sandboxMetaAppID), "the Meta app id Facebook Login accepts")
	f.StringVar(&neksioURL, "neksio-url", "http://127.0.0.1:8080", "the server the emulators post to (WhatsApp statuses, Google notifications, TikTok echoes, comment changes and publications)")
	f.StringVar(&waSecret, "whatsapp-app-secret", os.Getenv("NEKSIO_WHATSAPP_APP_SECRET"), "app secret to sign WhatsApp status webhooks with (empty: no statuses)")
	google.flags(cmd)
	tt.register(cmd)
	return cmd
}

// simulateCmd posts correctly signed webhooks to a running server, the way
// payment CLIs trigger test events.
func simulateCmd() *cobra.Command {
	var url, secret, text, from, name, phoneID, kind, account, post, sandboxURL, clientKey, parent string
	var gLocation, gReview string
	var gStars int
	var gAnonymous, gDelete bool
	cmd := &cobra.Command{
		Use:   "simulate whatsapp|facebook|instagram|google|tiktok",
		Short: "Post a correctly signed webhook to a running Neksio server (google: have the sandbox write a review and push it; tiktok --kind comment: have the sandbox add a comment)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			platform := args[0]
			if platform == "google" {
				reviewer := name
				if !cmd.Flags().Changed("name") {
					reviewer = "Alex Rivera"
				}
				return simulateGoogle(cmd, sandboxURL, gLocation, gReview, reviewer, text, gStars, gAnonymous, gDelete)
			}
			var body []byte
			var path, sec string
			switch platform {
			case "tiktok":
				return simulateTikTok(cmd.Context(), cmd.OutOrStdout(), tiktokSimulation{url: url, sandboxURL: sandboxURL,
					secret: cmp.Or(secret, os.Getenv("NEKSIO_TIKTOK_CLIENT_SECRET")), clientKey: clientKey, kind: kind,
					account: account, from: from, name: name, text: text, video: post, parent: parent})
			case "whatsapp":
				if phoneID == "" {
					return fmt.Errorf("--phone-number-id is required")
				}
				body = wasandbox.TextMessage(phoneID, from, name, text)
				path, sec = "/webhooks/whatsapp", cmp.Or(secret, os.Getenv("NEKSIO_WHATSAPP_APP_SECRET"))
				// Tell the emulator the customer wrote: it enforces the
				// 24-hour window like the platform.
				wurl := sandboxURL
				if !cmd.Flags().Changed("sandbox-url") {
					wurl = sandboxWhatsAppURL
				}
				if wurl != "" {
					if resp, err := http.Post(strings.TrimRight(wurl, "/")+"/_sandbox/observe", "application/json", bytes.NewReader(body)); err == nil {
						resp.Body.Close()
					} else if cmd.Flags().Changed("sandbox-url") {
						return fmt.Errorf("the WhatsApp emulator: %w", err)
					}
				}
			case "facebook", "instagram":
				if account == "" {
					return fmt.Errorf("--account is required (the Page or Instagram account id)")
				}
				id := fmt.Sprintf("%d", time.Now().UnixNano())
				switch {
				case platform == "facebook" && kind == "dm":
					body = metasandbox.MessengerText(account, from, text)
				case platform == "facebook" && kind == "comment":
					body = metasandbox.PageComment(account, cmp.Or(post, account+"_1"), cmp.Or(post, account+"_1")+"_"+id, from, name, text, "add")
				case platform == "instagram" && kind == "dm":
					body = metasandbox.InstagramDM(account, from, text)
				case platform == "instagram" && kind == "comment":
					body = metasandbox.InstagramComment(account, cmp.Or(post, "17900000000000001"), id, from, name, text)
				default:
					return fmt.Errorf("--kind must be dm or comment")
				}
				path, sec = "/webhooks/meta", cmp.Or(secret, os.Getenv("NEKSIO_META_APP_SECRET"))
				if sandboxURL != "" {
					// Tell the emulator what the customer did, so replies are in window.
					if resp, err := http.Post(strings.TrimRight(sandboxURL, "/")+"/_sandbox/observe", "application/json", bytes.NewReader(body)); err == nil {
						resp.Body.Close()
					}
				}
			default:
				return fmt.Errorf("unknown platform %q (whatsapp, facebook, instagram, google or tiktok)", platform)
			}
			if sec == "" {
				return fmt.Errorf("no app secret: pass --app-secret or set NEKSIO_%s_APP_SECRET", map[bool]string{true: "WHATSAPP", false: "META"}[platform == "whatsapp"])
			}
			code, resp, err := wasandbox.Deliver(cmd.Context(), http.DefaultClient, strings.TrimRight(url, "/")+path, sec, body)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d %s\n", code, strings.TrimSpace(string(resp)))
			if code != http.StatusOK {
				return fmt.Errorf("server answered %d", code)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "http://127.0.0.1:8080", "the Neksio server")
	f.StringVar(&secret, "app-secret", "", "the app secret to sign with (default: NEKSIO_<PLATFORM>_APP_SECRET; tiktok: NEKSIO_TIKTOK_CLIENT_SECRET)")
	f.StringVar(&text, "text", "Hello!", "the message text")
	f.StringVar(&from, "from", "16505551234", "the customer's id (wa_id, PSID, IGSID)")
	f.StringVar(&name, "name", "Sandbox Customer", "the customer's name (google: the reviewer's, default Alex Rivera)")
	f.StringVar(&phoneID, "phone-number-id", "", "whatsapp: the business phone_number_id")
	f.StringVar(&kind, "kind", "dm", "facebook|instagram|tiktok: dm or comment")
	f.StringVar(&account, "account", "", "facebook|instagram|tiktok: the Page, Instagram account or TikTok open_id")
	f.StringVar(&post, "post", "", "facebook|instagram|tiktok: the post, media or video id for comments (tiktok: a new video when empty)")
	f.StringVar(&sandboxURL, "sandbox-url", "", "whatsapp: the WhatsApp emulator to tell about the customer (default "+sandboxWhatsAppURL+", told when reachable); facebook|instagram: the Meta emulator (e.g. http://127.0.0.1:8090/meta) to tell about the customer; google: the Google emulator (default "+sandboxGoogleURL+"); tiktok: the TikTok emulator (e.g. http://127.0.0.1:8090/tiktok), told about the customer, where comments are made")
	f.StringVar(&gLocation, "location", "", "google: the location reviewed (accounts/{a}/locations/{l})")
	f.IntVar(&gStars, "stars", 5, "google: the review's stars, 1-5 (0: no rating)")
	f.BoolVar(&gAnonymous, "anonymous", false, "google: an anonymous reviewer")
	f.StringVar(&gReview, "review", "", "google: a review to edit (with --stars and --text) or delete (--delete)")
	f.BoolVar(&gDelete, "delete", false, "google: delete --review")
	f.StringVar(&clientKey, "client-key", cmp.Or(os.Getenv("NEKSIO_TIKTOK_CLIENT_KEY"), ttsandbox.DefaultClientKey), "tiktok: the app's client key the delivery names")
	f.StringVar(&parent, "parent", "", "tiktok: the comment a comment replies to")
	return cmd
}

// Sandbox defaults for WhatsApp and Facebook Login.
const (
	sandboxWhatsAppURL = "http://127.0.0.1:8090/whatsapp"
	sandboxMetaAppID   = "sandbox-meta-app"
	sandboxMetaUser    = "10000000000000042"
)

// addSandboxTemplates gives the emulated number's business account two
// approved templates, for whatsappTemplates and sendTemplate.
func addSandboxTemplates(wa *wasandbox.Server) {
	wa.AddTemplate(wasandbox.DefaultWABAID, wasandbox.TemplateDef{Name: "hello_world", Language: "en_US", Category: "UTILITY",
		Status: "APPROVED", Components: json.RawMessage(`[{"type":"BODY","text":"Hello World"}]`)})
	wa.AddTemplate(wasandbox.DefaultWABAID, wasandbox.TemplateDef{Name: "order_update", Language: "en_US", Category: "UTILITY",
		Status: "APPROVED", Components: json.RawMessage(`[{"type":"BODY","text":"Hi {{1}}, your order {{2}} is ready for pickup."}]`)})
}
