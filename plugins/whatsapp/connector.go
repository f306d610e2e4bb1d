package whatsapp

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Name is the connector's name; webhooks arrive at /webhooks/whatsapp.
const Name = "whatsapp"

// Platform is the only platform the connector serves.
const Platform = "whatsapp"

// Version of the connector.
const Version = "1.1.0"

// DefaultAPIBaseURL is the Graph API the connector calls unless
// App.APIBaseURL (or the api_base_url setting) says otherwise.
const DefaultAPIBaseURL = "https://graph.facebook.com/v21.0"

// Setting names, as declared in the config schema. The host normally maps
// them onto sdk.App fields; the connector falls back to App.Settings so a
// host that only fills Settings still works.
const (
	SettingAppSecret   = "app_secret"
	SettingVerifyToken = "verify_token"
	SettingAPIBaseURL  = "api_base_url"
)

// Option configures the connector.
type Option func(*connector)

// WithHTTPClient sets the client used for Cloud API calls.
func WithHTTPClient(c *http.Client) Option {
	return func(cn *connector) {
		if c != nil {
			cn.client = c
		}
	}
}

// WithClock sets the clock used for events without a timestamp and for
// Retry-After dates.
func WithClock(now func() time.Time) Option {
	return func(cn *connector) {
		if now != nil {
			cn.now = now
		}
	}
}

type connector struct {
	// Embedded for Publish, PublishStatus and Sync, which WhatsApp lacks.
	sdk.UnimplementedConnector
	client      *http.Client
	uploads     *http.Client // media uploads: the API, with a file's time
	mediaPublic *http.Client // media downloads: public addresses only
	mediaAny    *http.Client // the same, with allow_private_media_urls
	now         func() time.Time
}

// New returns the WhatsApp Business Cloud API connector.
func New(opts ...Option) sdk.Connector {
	c := &connector{
		client:      &http.Client{Timeout: 30 * time.Second},
		mediaPublic: sdk.PublicHTTPClient(mediaTimeout, false),
		mediaAny:    sdk.PublicHTTPClient(mediaTimeout, true),
		now:         time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	// Uploads go where API calls go (the same transport: an emulator's,
	// a test's), with a file's time.
	up := *c.client
	up.Timeout = mediaTimeout
	c.uploads = &up
	return c
}

func (c *connector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:      Name,
		Version:   Version,
		Platforms: []string{Platform},
		Capabilities: []sdk.Capability{
			sdk.CapWebhook, sdk.CapVerifySubscription, sdk.CapDirectMessage,
			sdk.CapTemplates, sdk.CapValidate, sdk.CapMediaFetch, sdk.CapListTemplates,
		},
		ConfigSchema: []sdk.ConfigField{
			{Name: SettingAppSecret, Description: "Meta app secret: verifies X-Hub-Signature-256 on webhooks", Secret: true, Required: true},
			{Name: SettingVerifyToken, Description: "token answered in the webhook subscription handshake", Secret: true, Required: true},
			{Name: SettingAPIBaseURL, Description: "Cloud API base URL, default " + DefaultAPIBaseURL},
			{Name: SettingUploadMedia, Description: "\"true\" uploads outbound media to the Cloud API and sends it by id, for media URLs WhatsApp cannot reach"},
			{Name: SettingAllowPrivateMedia, Description: "\"true\" accepts media URLs on private hosts (emulator only)"},
		},
		AccountIDLabel: "phone_number_id",
		Rules:          []sdk.PlatformRules{rules},
	}, nil
}

func (c *connector) VerifySubscription(_ context.Context, req *sdk.VerifyRequest) (*sdk.VerifyResponse, error) {
	return sdk.VerifyHubChallenge(req.Query, verifyToken(req.App)), nil
}

func (c *connector) RefreshCredentials(context.Context, *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	return nil, sdk.NewError(sdk.ClassUnsupported, "",
		"WhatsApp system-user access tokens have no refresh endpoint: issue a new token in Business Manager and reconnect the channel")
}

func (c *connector) Revoke(context.Context, *sdk.CredentialsRequest) error {
	return sdk.NewError(sdk.ClassUnsupported, "",
		"WhatsApp system-user access tokens cannot be revoked through the API: revoke them in Business Manager")
}

func appSecret(app sdk.App) string {
	if app.ClientSecret != "" {
		return app.ClientSecret
	}
	return app.Settings[SettingAppSecret]
}

func verifyToken(app sdk.App) string {
	if app.VerifyToken != "" {
		return app.VerifyToken
	}
	return app.Settings[SettingVerifyToken]
}

func baseURL(app sdk.App) string {
	b := app.APIBaseURL
	if b == "" {
		b = app.Settings[SettingAPIBaseURL]
	}
	if b == "" {
		b = DefaultAPIBaseURL
	}
	return strings.TrimRight(b, "/")
}
