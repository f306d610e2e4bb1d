package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	gsandbox "github.com/neksio/neksio/plugins/google/sandbox"
)

// Sandbox defaults for Google Business Profile.
const (
	sandboxGoogleLocation     = "accounts/1/locations/2"
	sandboxGoogleClientID     = "sandbox-client"
	sandboxGoogleClientSecret = "sandbox-secret"
	sandboxGoogleURL          = "http://127.0.0.1:8090/google"
)

// googleSandbox is the Business Profile emulator of `neksio sandbox`: one
// location with a grant, pushing signed Pub/Sub notifications to the
// server when its reviews change.
type googleSandbox struct {
	location, title, audience, serviceAccount string
	srv                                       *gsandbox.Server
	tokens                                    gsandbox.Tokens
}

func (g *googleSandbox) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.location, "google-location", sandboxGoogleLocation, "the emulated Business Profile location (accounts/{a}/locations/{l})")
	f.StringVar(&g.title, "google-location-title", "Sandbox Cafe", "its title")
	f.StringVar(&g.audience, "google-pubsub-audience", "", "the audience of push tokens (default: <neksio-url>/webhooks/google, Google's default)")
	f.StringVar(&g.serviceAccount, "google-pubsub-service-account", gsandbox.DefaultServiceAccount, "the service account push tokens name")
}

// mount serves the emulator under /google and points its pushes at the
// server's /webhooks/google.
func (g *googleSandbox) mount(mux *http.ServeMux, neksioURL string) error {
	account, location, err := gsandbox.ParseLocation(g.location)
	if err != nil {
		return fmt.Errorf("--google-location: %w", err)
	}
	g.srv = gsandbox.New(gsandbox.WithClient(sandboxGoogleClientID, sandboxGoogleClientSecret))
	g.srv.AddLocation(account, location, g.title)
	g.tokens = g.srv.Grant(account)
	if neksioURL != "" {
		hook := strings.TrimRight(neksioURL, "/") + "/webhooks/google"
		g.audience = cmp.Or(g.audience, hook)
		g.srv.SetPushTarget(gsandbox.PushTarget{URL: hook,
			Options: gsandbox.PushOptions{Audience: g.audience, ServiceAccount: g.serviceAccount}})
	}
	mux.Handle("/google/", http.StripPrefix("/google", g.srv))
	return nil
}

// settings are the server's settings that match the emulator.
func (g *googleSandbox) settings(base string) string {
	return fmt.Sprintf("  NEKSIO_GOOGLE_API_BASE_URL=%s/google  NEKSIO_GOOGLE_CLIENT_ID=%s  NEKSIO_GOOGLE_CLIENT_SECRET=%s\n"+
		"  NEKSIO_GOOGLE_PUBSUB_AUDIENCE=%s  NEKSIO_GOOGLE_PUBSUB_SERVICE_ACCOUNT=%s  NEKSIO_GOOGLE_ALLOW_PRIVATE_MEDIA_URLS=true\n",
		base, sandboxGoogleClientID, sandboxGoogleClientSecret, g.audience, g.serviceAccount)
}

// connect is how to connect the emulated location.
func (g *googleSandbox) connect() string {
	return fmt.Sprintf("  google    externalId %s  credentials {accessToken: \"%s\", refreshToken: \"%s\", expiresAt: \"%s\"}\n",
		g.location, g.tokens.AccessToken, g.tokens.RefreshToken, g.tokens.ExpiresAt.UTC().Format(time.RFC3339))
}

// simulateGoogle has the emulator do what a customer does on Google: write
// a review (--location, --stars, --text, --name or --anonymous), edit one
// (--review with --stars and --text) or delete one (--review --delete).
// The emulator pushes the signed notification to the server.
func simulateGoogle(cmd *cobra.Command, sandboxURL, location, review, name, text string, stars int, anonymous, del bool) error {
	base := strings.TrimRight(cmp.Or(sandboxURL, sandboxGoogleURL), "/") + "/_sandbox/google/"
	var method, url string
	var body any
	switch {
	case review != "" && del:
		method, url = http.MethodDelete, base+review
	case review != "":
		method, url, body = http.MethodPatch, base+review, map[string]any{"stars": stars, "text": text}
	case location != "":
		method, url, body = http.MethodPost, base+"reviews", map[string]any{"location": location, "reviewer": name,
			"anonymous": anonymous, "stars": stars, "text": text}
	default:
		return fmt.Errorf("--location is required (accounts/{a}/locations/{l}), or --review to edit or delete one")
	}
	if stars < 0 || stars > 5 {
		return fmt.Errorf("--stars must be 1 to 5 (0: no rating)")
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the Google emulator at %s: %w (is `neksio sandbox` running?)", sandboxURL, err)
	}
	defer resp.Body.Close()
	var out struct {
		Review     struct{ Name string } `json:"review"`
		PushStatus int                   `json:"push_status"`
		PushError  string                `json:"push_error"`
		Error      string                `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the Google emulator answered %d: %s", resp.StatusCode, out.Error)
	}
	name = cmp.Or(out.Review.Name, review)
	switch {
	case out.PushError != "":
		return fmt.Errorf("review %s: pushing the notification failed: %s", name, out.PushError)
	case out.PushStatus == 0:
		fmt.Fprintf(cmd.OutOrStdout(), "%s (no push target: start the sandbox with --neksio-url)\n", name)
	case out.PushStatus != http.StatusOK:
		return fmt.Errorf("review %s: the server answered the push with %d", name, out.PushStatus)
	default:
		fmt.Fprintf(cmd.OutOrStdout(), "%s pushed: %d\n", name, out.PushStatus)
	}
	return nil
}
