package meta

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
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
	// SettingAppID is the Meta app id (NEKSIO_META_APP_ID), for Facebook
	// Login; App.ClientID serves when it is not set.
	SettingAppID = "app_id"
	// SettingAuthURL replaces Facebook Login's consent dialog URL (the
	// emulator serves one).
	SettingAuthURL = "auth_url"
	// SettingHumanAgentTag is "true" when the app holds the Human Agent
	// permission: a person's DM refused as outside the 24-hour window is
	// then sent again with the HUMAN_AGENT tag (7 days).
	SettingHumanAgentTag = "human_agent_tag"
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
	mediaPublic  *http.Client // inbound attachments: public addresses only
	mediaAny     *http.Client // the same, with allow_private_media_urls
	now          func() time.Time
	pollInterval time.Duration
	maxPolls     int
}

// New returns the Meta connector.
func New(opts ...Option) sdk.Connector {
	c := &connector{
		client:       &http.Client{Timeout: 30 * time.Second},
		mediaPublic:  sdk.PublicHTTPClient(mediaTimeout, false),
		mediaAny:     sdk.PublicHTTPClient(mediaTimeout, true),
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
		Version:   "1.1.0",
		Platforms: []string{PlatformFacebook, PlatformInstagram},
		Capabilities: []sdk.Capability{
			sdk.CapWebhook, sdk.CapVerifySubscription, sdk.CapDirectMessage, sdk.CapCommentReply,
			sdk.CapPrivateReply, sdk.CapPublish, sdk.CapValidate, sdk.CapRevoke,
			sdk.CapOAuth, sdk.CapSubscribe, sdk.CapMediaFetch, sdk.CapLookup,
		},
		ConfigSchema: []sdk.ConfigField{
			{Name: "app_secret", Description: "Meta app secret: verifies X-Hub-Signature-256 on webhooks", Secret: true, Required: true},
			{Name: "verify_token", Description: "token answered in the webhook subscription handshake", Secret: true, Required: true},
			{Name: "api_base_url", Description: "Graph API base URL, default " + DefaultAPIBaseURL},
			{Name: SettingAllowPrivateMedia, Description: "\"true\" accepts media URLs on private hosts (emulator only)"},
			{Name: SettingAppID, Description: "Meta app id, for Facebook Login (falls back to client_id)"},
			{Name: SettingAuthURL, Description: "Facebook Login dialog URL, default " + DefaultAuthURL},
			{Name: SettingHumanAgentTag, Description: "\"true\" when the app holds the Human Agent permission: a person's reply may go up to 7 days after the customer's last message"},
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
	// Category is a Page's category ("Bicycle shop"). Every Page has one;
	// an Instagram account has no such field.
	Category string `json:"category"`
}

// pageFields asks for a Page's category; accountFields is what both kinds
// of account answer.
const (
	pageFields    = "id,name,username,category"
	accountFields = "id,name,username"
)

func (c *connector) ValidateCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	me, err := c.account(ctx, req, "me")
	if err != nil {
		return nil, err
	}
	// With Facebook Login an Instagram account is reached through its
	// Page's token, so /me is the Page: read the account itself.
	if req.AccountID != "" && me.ID != req.AccountID {
		if me, err = c.account(ctx, req, url.PathEscape(req.AccountID)); err != nil {
			return nil, err
		}
	}
	platform := PlatformFacebook
	switch p := req.Credentials.Extra[ExtraPlatform]; {
	case p == PlatformInstagram || p == PlatformFacebook:
		platform = p
	case me.Category != "":
		// A username does not tell: a Page with a vanity name
		// (facebook.com/acmebikes) has one too.
	case me.noCategory || me.Username != "":
		platform = PlatformInstagram
	}
	name := me.Name
	if name == "" {
		name = me.Username
	}
	return &sdk.AccountInfo{AccountID: me.ID, Name: name, Platform: platform, Scopes: req.Credentials.Scopes}, nil
}

type accountNode struct {
	meResponse
	// noCategory: the Graph API refused the category field, which it does
	// for a node type without one (an Instagram account).
	noCategory bool
}

// account reads an account node with its category. The Graph API answers
// a field a node type does not have with error 100 ("Tried accessing
// nonexisting field (category) on node type (IGUser)"), so on code 100 the
// node is read again without it: if that succeeds, the node has no
// category. Any other failure, or the same one again, is returned.
func (c *connector) account(ctx context.Context, req *sdk.CredentialsRequest, path string) (accountNode, error) {
	var out accountNode
	err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, path, url.Values{"fields": {pageFields}}, nil, &out.meResponse)
	var se *sdk.Error
	if err == nil || !errors.As(err, &se) || (se.Code != "100" && !strings.HasPrefix(se.Code, "100/")) {
		return out, err
	}
	out = accountNode{noCategory: true}
	if err := c.graph(ctx, req.App, req.Credentials.AccessToken, http.MethodGet, path, url.Values{"fields": {accountFields}}, nil, &out.meResponse); err != nil {
		return accountNode{}, err
	}
	return out, nil
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
