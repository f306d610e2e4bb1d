package tiktok

import (
	"cmp"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// Name is the connector's name; webhooks arrive at /webhooks/tiktok.
const Name = "tiktok"

// Platform is the only platform the connector serves.
const Platform = "tiktok"

// Version of the connector.
const Version = "1.0.0"

// Default endpoints; the settings below override each.
const (
	// DefaultAPIBaseURL serves OAuth, user info and content posting.
	DefaultAPIBaseURL = "https://open.tiktokapis.com"
	// DefaultBusinessAPIBaseURL serves messages, comments and videos.
	DefaultBusinessAPIBaseURL = "https://business-api.tiktok.com/open_api/v1.3"
	// DefaultAuthURL is Login Kit's consent page.
	DefaultAuthURL = "https://www.tiktok.com/v2/auth/authorize/"
)

// DefaultScopes are asked for when AuthorizeRequest names none.
var DefaultScopes = []string{"user.info.basic", "video.publish"}

// Settings read from App.Settings (NEKSIO_TIKTOK_<SETTING>, lowercased).
const (
	SettingClientKey          = "client_key"
	SettingClientSecret       = "client_secret"
	SettingAPIBaseURL         = "api_base_url"
	SettingBusinessAPIBaseURL = "business_api_base_url"
	SettingAuthURL            = "auth_url"
	// SettingAudited is "true" once the app passed TikTok's audit;
	// until then TikTok only accepts SELF_ONLY (private) posts.
	SettingAudited = "audited"
	// SettingAllowPrivateMedia lets Publish hand TikTok media URLs on
	// loopback or private hosts. TikTok pulls the video itself, so such
	// URLs never work in production; the emulator needs them.
	SettingAllowPrivateMedia = "allow_private_media_urls"
	// SettingSyncMaxVideos bounds how many of the business's most recent
	// videos one comment sync pass walks (default 50, 0 = all).
	SettingSyncMaxVideos = "sync_max_videos"
)

// Credentials.Extra keys the connector writes and reads.
const (
	// ExtraOpenID is the TikTok user the token belongs to.
	ExtraOpenID = "open_id"
	// ExtraUsername is the account's @handle, used to build post URLs.
	ExtraUsername = "username"
	// ExtraRefreshExpiresAt is when the refresh token expires (RFC 3339).
	ExtraRefreshExpiresAt = "refresh_expires_at"
)

const defaultSyncMaxVideos = 50

// Option configures the connector.
type Option func(*connector)

// WithHTTPClient sets the client used for every TikTok call.
func WithHTTPClient(c *http.Client) Option {
	return func(cn *connector) {
		if c != nil {
			cn.client = c
		}
	}
}

// WithClock sets the clock used for signature timestamps, token expiry
// and Retry-After dates.
func WithClock(now func() time.Time) Option {
	return func(cn *connector) {
		if now != nil {
			cn.now = now
		}
	}
}

type connector struct {
	sdk.UnimplementedConnector
	client *http.Client
	now    func() time.Time
}

// New returns the TikTok connector.
func New(opts ...Option) sdk.Connector {
	c := &connector{
		client: &http.Client{Timeout: 30 * time.Second},
		now:    time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Compile-time checks of the optional interfaces Describe declares.
var (
	_ sdk.Authorizer    = (*connector)(nil)
	_ sdk.PostValidator = (*connector)(nil)
)

func (c *connector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:      Name,
		Version:   Version,
		Platforms: []string{Platform},
		Capabilities: []sdk.Capability{
			sdk.CapWebhook, sdk.CapDirectMessage, sdk.CapCommentReply, sdk.CapSync, sdk.CapPublish,
			sdk.CapValidatePost, sdk.CapValidate, sdk.CapRefresh, sdk.CapRevoke, sdk.CapOAuth,
		},
		ConfigSchema: []sdk.ConfigField{
			{Name: SettingClientKey, Description: "TikTok app client key", Required: true},
			{Name: SettingClientSecret, Description: "TikTok app client secret: signs webhooks (Tiktok-Signature) and OAuth calls", Secret: true, Required: true},
			{Name: SettingAPIBaseURL, Description: "TikTok API base URL (OAuth, user info, content posting), default " + DefaultAPIBaseURL},
			{Name: SettingBusinessAPIBaseURL, Description: "TikTok Business API base URL (messages, comments, videos), default " + DefaultBusinessAPIBaseURL},
			{Name: SettingAuthURL, Description: "consent page for onboarding, default " + DefaultAuthURL},
			{Name: SettingAudited, Description: "\"true\" once the app passed TikTok's audit; until then only SELF_ONLY (private) posts are accepted"},
			{Name: SettingAllowPrivateMedia, Description: "\"true\" accepts video URLs on private hosts (emulator only)"},
			{Name: SettingSyncMaxVideos, Description: "how many of the most recent videos a comment sync pass walks, default 50, 0 = all"},
		},
		AccountIDLabel: "TikTok open_id (the Business API business_id)",
		Rules:          []sdk.PlatformRules{rules},
	}, nil
}

func clientKey(app sdk.App) string {
	return cmp.Or(app.Settings[SettingClientKey], app.ClientID)
}

func clientSecret(app sdk.App) string {
	return cmp.Or(app.ClientSecret, app.Settings[SettingClientSecret])
}

func apiBase(app sdk.App) string {
	return strings.TrimRight(cmp.Or(app.APIBaseURL, app.Settings[SettingAPIBaseURL], DefaultAPIBaseURL), "/")
}

func businessBase(app sdk.App) string {
	return strings.TrimRight(cmp.Or(app.Settings[SettingBusinessAPIBaseURL], DefaultBusinessAPIBaseURL), "/")
}

func authURL(app sdk.App) string {
	return cmp.Or(app.Settings[SettingAuthURL], DefaultAuthURL)
}

func audited(app sdk.App) bool {
	ok, _ := strconv.ParseBool(strings.TrimSpace(app.Settings[SettingAudited]))
	return ok
}

func syncMaxVideos(app sdk.App) int {
	v := strings.TrimSpace(app.Settings[SettingSyncMaxVideos])
	if v == "" {
		return defaultSyncMaxVideos
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return defaultSyncMaxVideos
	}
	return n
}

// annotate prefixes a classified error's message, keeping it an *sdk.Error
// so its class crosses the plugin boundary unchanged.
func annotate(err error, what string) error {
	if e, ok := err.(*sdk.Error); ok {
		cp := *e
		cp.Message = what + ": " + e.Message
		return &cp
	}
	return err
}
