package sdk

import (
	"context"
	"io"
)

// The interfaces below were added in protocol 1.1. A connector implements
// the ones it offers (and names the matching capability in Describe); the
// SDK answers "unsupported" for the others, exactly as a plugin built
// before 1.1 does, so a host handles both the same way.
//
// On the host side the Connector that NewGRPCClient returns implements all
// of them: assert the interface, call it, and treat ErrUnsupported as "this
// connector does not offer it".

// Authorizer runs a platform's OAuth authorization-code flow for the host:
// the host owns the state parameter, the redirect and the resulting grant;
// the connector only builds the platform's URL and exchanges the code.
type Authorizer interface {
	// AuthorizeURL returns the platform's consent page for the app.
	AuthorizeURL(ctx context.Context, req *AuthorizeRequest) (*AuthorizeResponse, error)
	// ExchangeCode trades the code the platform redirected back with for
	// credentials, and lists the accounts they open.
	ExchangeCode(ctx context.Context, req *ExchangeRequest) (*Grant, error)
}

// AuthorizeRequest asks for the consent page URL.
type AuthorizeRequest struct {
	App         App
	RedirectURI string
	// State is opaque to the connector: put it in the URL unchanged.
	State string
	// Scopes overrides the connector's default scopes when set.
	Scopes []string
}

// AuthorizeResponse is the URL to send the person to.
type AuthorizeResponse struct {
	URL string
}

// ExchangeRequest carries the platform's redirect back to the host.
type ExchangeRequest struct {
	App         App
	RedirectURI string
	Code        string
	// Query is the whole redirect query, for platforms that add fields.
	Query map[string][]string
}

// Grant is what an authorization opened.
type Grant struct {
	// Credentials are the grant's own (a user token, a refresh token).
	Credentials Credentials
	Accounts    []GrantedAccount
}

// GrantedAccount is one account a grant can connect as a channel.
type GrantedAccount struct {
	AccountID string
	Name      string
	Platform  string
	// Credentials are the account's own (a Facebook Page's token); nil
	// means the grant's credentials serve it.
	Credentials *Credentials
	Extra       map[string]string
}

// WebhookSubscriber subscribes the app to an account's webhooks when the
// account is connected (Meta's subscribed_apps).
type WebhookSubscriber interface {
	SubscribeWebhooks(ctx context.Context, req *CredentialsRequest) error
}

// MediaFetcher downloads an inbound attachment with the channel's
// credentials (platforms hand out media ids or short-lived URLs).
type MediaFetcher interface {
	// FetchMedia returns the attachment's bytes. The caller closes Body.
	// A connector must refuse more than MaxBytes.
	FetchMedia(ctx context.Context, req *FetchMediaRequest) (*MediaContent, error)
}

// FetchMediaRequest names one attachment of a message.
type FetchMediaRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
	Platform    string
	Attachment  Attachment
	// MaxBytes is the largest download the host accepts.
	MaxBytes int64
}

// MediaContent is a downloaded attachment.
type MediaContent struct {
	MimeType string
	// Size is the length in bytes when known, else -1.
	Size int64
	Name string
	Body io.ReadCloser
}

// TemplateLister lists an account's approved message templates
// (WhatsApp).
type TemplateLister interface {
	ListTemplates(ctx context.Context, req *CredentialsRequest) ([]*TemplateInfo, error)
}

// TemplateInfo describes one template.
type TemplateInfo struct {
	Name     string
	Language string
	Category string
	// Status is the platform's review status, e.g. APPROVED.
	Status         string
	ComponentsJSON []byte
	// BodyParameters is how many {{n}} parameters the body takes.
	BodyParameters int
}

// Lookuper reads profiles and thread context the webhooks leave out
// (Messenger sends no names; a comment does not carry its post's text).
type Lookuper interface {
	LookupContact(ctx context.Context, req *LookupRequest) (*Contact, error)
	LookupThread(ctx context.Context, req *LookupRequest) (*ThreadInfo, error)
}

// LookupRequest names a contact or a thread on an account.
type LookupRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
	Platform    string
	// ID is the contact's or the thread's platform id.
	ID         string
	ThreadKind ThreadKind
}

// ThreadInfo is a thread's context: a post's text, permalink and picture.
type ThreadInfo struct {
	ID           string
	Subject      string
	URL          string
	ThumbnailURL string
}

// Deleter removes something the business sent (a review reply, a
// comment).
type Deleter interface {
	Delete(ctx context.Context, req *DeleteRequest) error
}

// DeleteRequest names what to delete.
type DeleteRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
	// Kind is the kind of reply that created it.
	Kind       SendKind
	ExternalID string
	ThreadID   string
}

// PostValidator checks a post against rules that depend on the app or
// the account (an unaudited TikTok app may only post privately), beyond
// the static rules of Describe. It must not publish anything.
type PostValidator interface {
	ValidatePost(ctx context.Context, req *PublishRequest) error
}
