package google

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/neksio/neksio/plugins/sdk"
)

// Name is the connector's name; Pub/Sub pushes arrive at /webhooks/google.
const Name = "google"

// Platform is the one platform the connector serves.
const Platform = "google"

// Version of the connector.
const Version = "1.0.0"

// Settings read from App.Settings (NEKSIO_GOOGLE_<NAME> upper-cased).
const (
	SettingTokenURL          = "token_url"
	SettingAuthURL           = "auth_url"
	SettingRevokeURL         = "revoke_url"
	SettingJWKSURL           = "jwks_url"
	SettingAccountsURL       = "account_management_url"
	SettingBusinessInfoURL   = "business_information_url"
	SettingPubSubAudience    = "pubsub_audience"
	SettingPubSubAccount     = "pubsub_service_account"
	SettingAllowPrivateMedia = "allow_private_media_urls"
)

// Google's production endpoints.
const (
	DefaultAPIBaseURL      = "https://mybusiness.googleapis.com/v4"
	DefaultAccountsURL     = "https://mybusinessaccountmanagement.googleapis.com/v1"
	DefaultBusinessInfoURL = "https://mybusinessbusinessinformation.googleapis.com/v1"
	DefaultAuthURL         = "https://accounts.google.com/o/oauth2/v2/auth"
	DefaultTokenURL        = "https://oauth2.googleapis.com/token"
	DefaultRevokeURL       = "https://oauth2.googleapis.com/revoke"
	DefaultJWKSURL         = "https://www.googleapis.com/oauth2/v3/certs"
	// Scope is the one OAuth scope the connector needs.
	Scope = "https://www.googleapis.com/auth/business.manage"
)

// endpoints are the URLs of every Google service the connector calls.
type endpoints struct {
	v4, accounts, info, auth, token, revoke, jwks string
}

// endpointsFor resolves the URLs. With api_base_url set (an emulator), every
// service lives under it: <base>/v4, <base>/accountmanagement/v1,
// <base>/businessinformation/v1, <base>/o/oauth2/v2/auth, <base>/token,
// <base>/revoke, <base>/oauth2/v3/certs. Each explicit setting wins.
func endpointsFor(app sdk.App) endpoints {
	e := endpoints{DefaultAPIBaseURL, DefaultAccountsURL, DefaultBusinessInfoURL, DefaultAuthURL, DefaultTokenURL, DefaultRevokeURL, DefaultJWKSURL}
	if base := strings.TrimRight(app.APIBaseURL, "/"); base != "" {
		e = endpoints{base + "/v4", base + "/accountmanagement/v1", base + "/businessinformation/v1",
			base + "/o/oauth2/v2/auth", base + "/token", base + "/revoke", base + "/oauth2/v3/certs"}
	}
	set := func(dst *string, key string) {
		if v := strings.TrimRight(strings.TrimSpace(app.Settings[key]), "/"); v != "" {
			*dst = v
		}
	}
	set(&e.accounts, SettingAccountsURL)
	set(&e.info, SettingBusinessInfoURL)
	set(&e.auth, SettingAuthURL)
	set(&e.token, SettingTokenURL)
	set(&e.revoke, SettingRevokeURL)
	set(&e.jwks, SettingJWKSURL)
	return e
}

// Option configures the connector.
type Option func(*connector)

// WithHTTPClient sets the client used for every Google call (the API, the
// token endpoint and the JWKS).
func WithHTTPClient(c *http.Client) Option {
	return func(cn *connector) {
		if c != nil {
			cn.client = c
		}
	}
}

// WithClock sets the clock that checks token expiry.
func WithClock(now func() time.Time) Option {
	return func(cn *connector) {
		if now != nil {
			cn.now = now
		}
	}
}

type connector struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	keySets map[string]*oidc.RemoteKeySet
}

// New returns the Google Business Profile connector. Besides
// sdk.Connector it implements sdk.Authorizer, sdk.Deleter and
// sdk.PostValidator.
func New(opts ...Option) sdk.Connector {
	c := &connector{
		client:  &http.Client{Timeout: 30 * time.Second},
		now:     time.Now,
		keySets: map[string]*oidc.RemoteKeySet{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

var (
	_ sdk.Authorizer    = (*connector)(nil)
	_ sdk.Deleter       = (*connector)(nil)
	_ sdk.PostValidator = (*connector)(nil)
)

// Describe names the connector, its capabilities, settings and rules.
func (*connector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:      Name,
		Version:   Version,
		Platforms: []string{Platform},
		Capabilities: []sdk.Capability{
			sdk.CapWebhook, sdk.CapReviewReply, sdk.CapPublish, sdk.CapSync, sdk.CapRefresh,
			sdk.CapValidate, sdk.CapRevoke, sdk.CapDelete, sdk.CapOAuth, sdk.CapValidatePost,
		},
		ConfigSchema: []sdk.ConfigField{
			{Name: "client_id", Description: "OAuth client id (Google Cloud console): consent, code exchange and token refresh", Required: true},
			{Name: "client_secret", Description: "OAuth client secret", Secret: true, Required: true},
			{Name: SettingPubSubAudience, Description: "audience of Pub/Sub push tokens, as set on the push subscription; without it every push is refused", Required: true},
			{Name: SettingPubSubAccount, Description: "email of the push subscription's service account; without it every push is refused", Required: true},
			{Name: "api_base_url", Description: "Business Profile v4 base, default " + DefaultAPIBaseURL + "; when set, every other Google URL is derived from it (emulator)"},
			{Name: SettingAccountsURL, Description: "Account Management API base, default " + DefaultAccountsURL},
			{Name: SettingBusinessInfoURL, Description: "Business Information API base, default " + DefaultBusinessInfoURL},
			{Name: SettingAuthURL, Description: "OAuth consent page, default " + DefaultAuthURL},
			{Name: SettingTokenURL, Description: "OAuth token endpoint, default " + DefaultTokenURL},
			{Name: SettingRevokeURL, Description: "OAuth revocation endpoint, default " + DefaultRevokeURL},
			{Name: SettingJWKSURL, Description: "keys that sign Pub/Sub push tokens, default " + DefaultJWKSURL},
			{Name: SettingAllowPrivateMedia, Description: "\"true\" accepts post photos on private hosts (emulator only)"},
		},
		AccountIDLabel: "location name (accounts/{account}/locations/{location})",
		Rules:          rules,
	}, nil
}

// VerifySubscription is not part of Pub/Sub push: nothing to answer.
func (*connector) VerifySubscription(context.Context, *sdk.VerifyRequest) (*sdk.VerifyResponse, error) {
	return nil, sdk.NewError(sdk.ClassUnsupported, "", "Google Pub/Sub push has no subscription handshake")
}
