package whatsapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/whatsapp"
	"github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

const wabaID = "102290129340398"

const orderBody = `[{"type":"HEADER","format":"TEXT","text":"Order {{1}}"},
	{"type":"BODY","text":"Hi {{1}}, your order {{2}} ships on {{3}}. Thanks {{1}}!"},
	{"type":"FOOTER","text":"Lucky Shrub"}]`

func addTemplates(emu *sandbox.Server) {
	emu.AddTemplate(wabaID, sandbox.TemplateDef{Name: "order_update", Language: "en_US", Category: "UTILITY", Status: "APPROVED", Components: json.RawMessage(orderBody)})
	emu.AddTemplate(wabaID, sandbox.TemplateDef{Name: "order_update", Language: "fr", Category: "UTILITY", Status: "APPROVED",
		Components: json.RawMessage(`[{"type":"BODY","text":"Bonjour {{1}}"}]`)})
	emu.AddTemplate(wabaID, sandbox.TemplateDef{Name: "hello_world", Language: "en_US", Category: "UTILITY", Status: "APPROVED",
		Components: json.RawMessage(`[{"type":"BODY","text":"Hello World"}]`)})
	emu.AddTemplate(wabaID, sandbox.TemplateDef{Name: "promo", Language: "en_US", Category: "MARKETING", Status: "REJECTED",
		Components: json.RawMessage(`[{"type":"BODY","text":"Sale {{1}}"}]`)})
}

func TestListTemplates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	addTemplates(b.emu)
	l := sdktest.Connect(t, b.conn).(sdk.TemplateLister)
	creds := sdk.Credentials{AccessToken: token, Extra: map[string]string{whatsapp.ExtraWABAID: wabaID}}

	ts, err := l.ListTemplates(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: creds, AccountID: phoneID})
	require.NoError(t, err)
	require.Len(t, ts, 3, "approved templates only")
	require.Equal(t, "hello_world", ts[0].Name)
	require.Equal(t, 0, ts[0].BodyParameters)
	require.Equal(t, "order_update", ts[1].Name)
	require.Equal(t, "en_US", ts[1].Language)
	require.Equal(t, "UTILITY", ts[1].Category)
	require.Equal(t, "APPROVED", ts[1].Status)
	require.Equal(t, 3, ts[1].BodyParameters, "{{1}} twice, {{2}}, {{3}}; the header's parameter is not the body's")
	require.JSONEq(t, orderBody, string(ts[1].ComponentsJSON))
	require.Equal(t, "fr", ts[2].Language)
	require.Equal(t, 1, ts[2].BodyParameters)

	// connectChannel's credentials map spells it wabaId.
	ts, err = l.ListTemplates(ctx, &sdk.CredentialsRequest{App: b.app, AccountID: phoneID,
		Credentials: sdk.Credentials{AccessToken: token, Extra: map[string]string{whatsapp.ExtraWABAIDAlt: wabaID}}})
	require.NoError(t, err)
	require.Len(t, ts, 3)

	// Without it, the token's one WABA is found with debug_token.
	ts, err = l.ListTemplates(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID})
	require.NoError(t, err)
	require.Len(t, ts, 3)

	// A WABA the token has no number in.
	_, err = l.ListTemplates(ctx, &sdk.CredentialsRequest{App: b.app, AccountID: phoneID,
		Credentials: sdk.Credentials{AccessToken: token, Extra: map[string]string{whatsapp.ExtraWABAID: "999"}}})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	_, err = l.ListTemplates(ctx, &sdk.CredentialsRequest{App: b.app, Credentials: sdk.Credentials{AccessToken: "nope", Extra: creds.Extra}})
	sdktest.RequireClass(t, sdk.ClassAuthRevoked, err)
}

// A token whose numbers span two WABAs cannot guess which one is meant.
func TestListTemplatesNeedsTheWABAWhenSeveral(t *testing.T) {
	t.Parallel()
	emu := sandbox.New()
	emu.AddNumber(phoneID, "+1 555", "A", token)
	emu.AddNumber(otherPhone, "+44 20", "B", token)
	emu.SetWABA(otherPhone, "888")
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	_, err := whatsapp.New(whatsapp.WithHTTPClient(srv.Client())).(sdk.TemplateLister).ListTemplates(context.Background(),
		&sdk.CredentialsRequest{App: sdk.App{APIBaseURL: srv.URL}, Credentials: sdk.Credentials{AccessToken: token}, AccountID: phoneID})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "credentials.wabaId")
}

func TestListTemplatesPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 230 {
		b.emu.AddTemplate(wabaID, sandbox.TemplateDef{Name: fmt.Sprintf("t%03d", i), Language: "en", Status: "APPROVED",
			Components: json.RawMessage(`[{"type":"BODY","text":"x"}]`)})
	}
	ts, err := b.conn.(sdk.TemplateLister).ListTemplates(context.Background(), &sdk.CredentialsRequest{App: b.app, AccountID: phoneID,
		Credentials: sdk.Credentials{AccessToken: token, Extra: map[string]string{whatsapp.ExtraWABAID: wabaID}}})
	require.NoError(t, err)
	require.Len(t, ts, 230)
}

func bodyComponents(params ...string) []byte {
	var ps []map[string]string
	for _, p := range params {
		ps = append(ps, map[string]string{"type": "text", "text": p})
	}
	b, _ := json.Marshal([]map[string]any{{"type": "body", "parameters": ps}})
	return b
}

func TestSendTemplateChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	addTemplates(b.emu)
	_, err := b.send(sdk.SendRequest{Template: &sdk.Template{Name: "order_update", Language: "en_US", ComponentsJSON: bodyComponents("Ann", "#42", "Monday")}})
	require.NoError(t, err)

	_, err = b.send(sdk.SendRequest{Template: &sdk.Template{Name: "order_update", Language: "en_US", ComponentsJSON: bodyComponents("Ann")}})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "132000")
	_, err = b.send(sdk.SendRequest{Template: &sdk.Template{Name: "nope", Language: "en_US"}})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "132001")
	_, err = b.send(sdk.SendRequest{Template: &sdk.Template{Name: "promo", Language: "en_US", ComponentsJSON: bodyComponents("x")}})
	sdktest.RequireClass(t, sdk.ClassPermanent, err)
	require.Contains(t, err.Error(), "132001", "a rejected template cannot be sent")
	require.Len(t, b.emu.Sent(), 1)
}

// The emulator enforces the customer-service window from what customers
// wrote: a free-form message more than 24 hours after the customer's last
// one is refused with 131047 (window_closed); a template still goes.
func TestWindowEnforcedByTheEmulator(t *testing.T) {
	t.Parallel()
	now := time.Now()
	emu := sandbox.New(sandbox.WithWindowEnforced(), sandbox.WithClock(func() time.Time { return now }))
	emu.AddNumber(phoneID, "+1 555", "A", token)
	addTemplates(emu)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	b := &testBundle{conn: whatsapp.New(whatsapp.WithHTTPClient(srv.Client())), emu: emu, app: sdk.App{APIBaseURL: srv.URL + "/v21.0"}}

	_, err := b.send(sdk.SendRequest{Text: "never wrote to us"})
	sdktest.RequireClass(t, sdk.ClassWindowClosed, err)
	require.Contains(t, err.Error(), "131047")

	emu.Observe(sandbox.Inbound{PhoneNumberID: phoneID, From: customer, Text: "hi", Timestamp: now.Add(-23 * time.Hour)}.Body())
	_, err = b.send(sdk.SendRequest{Text: "within 24 hours"})
	require.NoError(t, err)

	now = now.Add(2 * time.Hour) // 25 hours since the customer wrote
	_, err = b.send(sdk.SendRequest{Text: "too late"})
	sdktest.RequireClass(t, sdk.ClassWindowClosed, err)
	_, err = b.send(sdk.SendRequest{Attachments: []sdk.Attachment{{Type: "image", URL: "https://cdn.example.com/a.jpg"}}})
	sdktest.RequireClass(t, sdk.ClassWindowClosed, err)
	_, err = b.send(sdk.SendRequest{Template: &sdk.Template{Name: "hello_world", Language: "en_US"}})
	require.NoError(t, err, "a template goes outside the window")

	emu.Seen(phoneID, "+1 650-555-1234", now) // the customer writes again
	_, err = b.send(sdk.SendRequest{Text: "back in the window"})
	require.NoError(t, err)
	require.Len(t, emu.Sent(), 3)
}
