package meta

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Name is the connector's name; webhooks arrive at /webhooks/meta.
const Name = "meta"

// Platforms served by the connector.
const (
	PlatformFacebook  = "facebook"
	PlatformInstagram = "instagram"
)

// Settings read from App.Settings.
const (
	// SettingAllowPrivateMedia lets Publish take media URLs on loopback or
	// private hosts. Meta fetches media itself, so such URLs never work in
	// production; the emulator serves on 127.0.0.1 and needs it.
	SettingAllowPrivateMedia = "allow_private_media_urls"
	// ExtraPlatform is the Credentials.Extra key the host sets to
	// "facebook" or "instagram": comment replies use different endpoints
	// on each and SendRequest does not name the platform.
	ExtraPlatform = "platform"
)

// Option configures the connector.
type Option func(*connector)

// WithHTTPClient sets the client used for Graph calls.
func WithHTTPClient(c *http.Client) Option {
	return func(cn *connector) {
		if c != nil {
			cn.client = c
		}
	}
}

// WithClock sets the clock used to check scheduling bounds.
func WithClock(now func() time.Time) Option {
	return func(cn *connector) {
		if now != nil {
			cn.now = now
		}
	}
}

// WithPublishPollInterval sets the wait between Instagram container status
// polls. Zero polls without waiting (tests).
func WithPublishPollInterval(d time.Duration) Option {
	return func(cn *connector) { cn.pollInterval = max(d, 0) }
}

// WithPublishMaxPolls bounds the status polls of one container before
// Publish gives up with a retryable error.
func WithPublishMaxPolls(n int) Option {
	return func(cn *connector) {
		if n > 0 {
			cn.maxPolls = n
		}
	}
}

type connector struct {
	sdk.UnimplementedConnector
	client       *http.Client
	now          func() time.Time
	pollInterval time.Duration
	maxPolls     int
}

// New returns the Meta connector.
func New(opts ...Option) sdk.Connector {
	c := &connector{
		client:       &http.Client{Timeout: 30 * time.Second},
		now:          time.Now,
		pollInterval: 2 * time.Second,
		maxPolls:     15,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *connector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:      Name,
		Version:   "1.0.0",
		Platforms: []string{PlatformFacebook, PlatformInstagram},
		Capabilities: []sdk.Capability{
			sdk.CapWebhook, sdk.CapVerifySubscription, sdk.CapDirectMessage, sdk.CapCommentReply,
			sdk.CapPrivateReply, sdk.CapPublish, sdk.CapValidate, sdk.CapRevoke,
		},
		ConfigSchema: []sdk.ConfigField{
			{Name: "app_secret", Description: "Meta app secret: verifies X-Hub-Signature-256 on webhooks", Secret: true, Required: true},
			{Name: "verify_token", Description: "token answered in the webhook subscription handshake", Secret: true, Required: true},
			{Name: "api_base_url", Description: "Graph API base URL, default " + DefaultAPIBaseURL},
			{Name: SettingAllowPrivateMedia, Description: "\"true\" accepts media URLs on private hosts (emulator only)"},
		},
		AccountIDLabel: "page id or Instagram account id",
		Rules:          rules,
	}, nil
}

func (c *connector) VerifySubscription(_ context.Context, req *sdk.VerifyRequest) (*sdk.VerifyResponse, error) {
	return sdk.VerifyHubChallenge(req.Query, req.App.VerifyToken), nil
}

type meResponse struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

func (c *connector) ValidateCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	fields := url.Values{"fields": {"id,name,username"}}
	var me meResponse
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, "me", fields, nil, &me); err != nil {
		return nil, err
	}
	// With Facebook Login an Instagram account is reached through its
	// Page's token, so /me is the Page: read the account itself.
	if req.AccountID != "" && me.ID != req.AccountID {
		var acct meResponse
		if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, url.PathEscape(req.AccountID), fields, nil, &acct); err != nil {
			return nil, err
		}
		me = acct
	}
	platform := PlatformFacebook
	switch p := req.Credentials.Extra[ExtraPlatform]; {
	case p == PlatformInstagram || p == PlatformFacebook:
		platform = p
	case me.Username != "":
		platform = PlatformInstagram
	}
	name := me.Name
	if name == "" {
		name = me.Username
	}
	return &sdk.AccountInfo{AccountID: me.ID, Name: name, Platform: platform, Scopes: req.Credentials.Scopes}, nil
}

func (c *connector) RefreshCredentials(context.Context, *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	return nil, sdk.NewError(sdk.ClassUnsupported, "",
		"page tokens derived from long-lived user tokens do not expire: reconnect the channel if Meta revokes one")
}

func (c *connector) Revoke(ctx context.Context, req *sdk.CredentialsRequest) error {
	var out struct {
		Success bool `json:"success"`
	}
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodDelete, "me/permissions", nil, nil, &out); err != nil {
		return err
	}
	if !out.Success {
		return sdk.NewError(sdk.ClassPermanent, "", "Meta did not confirm the revocation")
	}
	return nil
}
