package sdk

import (
	"context"
	"time"
)

// Connector is what a connector plugin implements. Every method receives
// everything the call needs (app settings, the channel's credentials): a
// connector stores no state of its own, so the host may restart it at will.
//
// Errors should be *Error values (see NewError and the Err* helpers) so the
// host knows whether to retry, ask for a template, reconnect the channel, or
// give up. Any other error is treated as retryable.
//
// Embed UnimplementedConnector to answer ErrUnsupported for the surfaces a
// connector does not offer.
type Connector interface {
	// Describe names the connector, the platforms it serves, its
	// capabilities and the settings it reads.
	Describe(ctx context.Context) (*Description, error)
	// VerifySubscription answers a platform's GET subscription handshake.
	VerifySubscription(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error)
	// HandleWebhook verifies a delivery's signature and parses it into
	// normalized events. It must not call the platform: the host answers
	// the platform only after the events are committed.
	HandleWebhook(ctx context.Context, req *WebhookRequest) (*WebhookResult, error)
	// Send delivers a reply: a direct message, a public or private reply
	// to a comment, or a reply to a review.
	Send(ctx context.Context, req *SendRequest) (*SendResult, error)
	// Publish creates a post, now or scheduled.
	Publish(ctx context.Context, req *PublishRequest) (*PublishResult, error)
	// PublishStatus reports on a post whose publication is asynchronous.
	PublishStatus(ctx context.Context, req *PublishStatusRequest) (*PublishResult, error)
	// Sync pulls what the platform does not push (e.g. reviews), one page
	// per call, resuming from Cursor.
	Sync(ctx context.Context, req *SyncRequest) (*SyncResult, error)
	// ValidateCredentials checks a channel's credentials against the
	// platform and describes the account they open.
	ValidateCredentials(ctx context.Context, req *CredentialsRequest) (*AccountInfo, error)
	// RefreshCredentials exchanges a refresh token for new credentials.
	// The host stores the result (refresh tokens may rotate).
	RefreshCredentials(ctx context.Context, req *CredentialsRequest) (*Credentials, error)
	// Revoke invalidates the channel's token at the platform, when the
	// platform allows it.
	Revoke(ctx context.Context, req *CredentialsRequest) error
}

// Capability names a surface a connector offers.
type Capability string

const (
	CapWebhook            Capability = "webhook"
	CapDirectMessage      Capability = "direct_message"
	CapCommentReply       Capability = "comment_reply"
	CapPrivateReply       Capability = "private_reply"
	CapReviewReply        Capability = "review_reply"
	CapTemplates          Capability = "templates"
	CapPublish            Capability = "publish"
	CapSync               Capability = "sync"
	CapRefresh            Capability = "refresh_credentials"
	CapRevoke             Capability = "revoke"
	CapValidate           Capability = "validate_credentials"
	CapVerifySubscription Capability = "verify_subscription"

	// Added in protocol 1.1, each backed by an optional interface.
	CapOAuth         Capability = "oauth"          // Authorizer
	CapSubscribe     Capability = "subscribe"      // WebhookSubscriber
	CapMediaFetch    Capability = "media_fetch"    // MediaFetcher
	CapListTemplates Capability = "list_templates" // TemplateLister
	CapLookup        Capability = "lookup"         // Lookuper
	CapDelete        Capability = "delete"         // Deleter
	CapValidatePost  Capability = "validate_post"  // PostValidator
)

// Description is what Describe returns.
type Description struct {
	Name         string
	Version      string
	Platforms    []string
	Capabilities []Capability
	// ConfigSchema lists the app-level settings the connector reads from
	// App.Settings (the host fills them from NEKSIO_<NAME>_<SETTING>).
	ConfigSchema []ConfigField
	// AccountIDLabel tells users what a channel's external id is, e.g.
	// "phone_number_id".
	AccountIDLabel string
	// Rules are each platform's limits (reply length, reply windows,
	// attachments, publishing formats), which the host checks before it
	// queues anything. Added in protocol 1.1.
	Rules []PlatformRules
	// ProtocolMinor is the protocol minor version the plugin was built
	// with. The SDK fills it in; plugins older than 1.1 report 0.
	ProtocolMinor int
}

// ConfigField describes one app-level setting.
type ConfigField struct {
	Name        string
	Description string
	Secret      bool
	Required    bool
}

// App carries the app-level settings of a connector, handed to every call.
// For a channel that brings its own app, the host fills it from the
// channel instead of the global settings.
type App struct {
	// APIBaseURL overrides the platform's API base URL (emulators, tests).
	APIBaseURL string
	// ClientID is the app id or client key, where the platform has one.
	ClientID string
	// ClientSecret is the app secret: it signs webhooks.
	ClientSecret string
	// VerifyToken answers GET subscription handshakes.
	VerifyToken string
	// Settings holds any other declared setting.
	Settings map[string]string
}

// Credentials are a channel's secrets, decrypted by the host for one call.
type Credentials struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	Scopes       []string
	Extra        map[string]string
}

// VerifyRequest is a GET subscription handshake.
type VerifyRequest struct {
	App    App
	Query  map[string][]string
	Header map[string][]string
}

// VerifyResponse is what the host answers the handshake with.
type VerifyResponse struct {
	StatusCode  int
	ContentType string
	Body        []byte
}

// WebhookRequest is one raw delivery, exactly as received.
type WebhookRequest struct {
	App        App
	Method     string
	Path       string
	Query      map[string][]string
	Header     map[string][]string
	Body       []byte
	ReceivedAt time.Time
}

// WebhookResult is the parsed delivery.
type WebhookResult struct {
	Events []*Event
}

// EventKind says which field of Event is set.
type EventKind string

const (
	EventMessage EventKind = "message" // a DM, comment or review (see Message.ThreadKind)
	EventStatus  EventKind = "status"  // delivery status of an outbound message
	EventAccount EventKind = "account" // something happened to the account (revoked, ...)
	EventPublish EventKind = "publish" // a post's publication progressed
	// EventNotify says something changed without saying what it now is
	// (Google's Pub/Sub notifications name a review): the host fetches
	// the item with Sync{Only: ItemID} before it acknowledges the
	// delivery. Added in protocol 1.1.
	EventNotify EventKind = "notify"
)

// Event is one normalized thing a platform told us.
type Event struct {
	Kind     EventKind
	Platform string // "whatsapp", "facebook", "instagram", "google", "tiktok", ...
	// AccountID is the external account the event belongs to (phone number
	// id, page id, IG account id, location name): the host routes it to the
	// channel that owns it.
	AccountID  string
	OccurredAt time.Time

	Message *Message
	Status  *StatusUpdate
	Account *AccountEvent
	Publish *PublishResult
	Notify  *Notification
}

// Notification names an item that changed at the platform.
type Notification struct {
	// Type is the platform's notification type, e.g. "NEW_REVIEW".
	Type       string
	ThreadKind ThreadKind
	// ItemID is what Sync's Only takes, e.g. a review's resource name.
	ItemID string
}

// ThreadKind is the shape of the conversation a message belongs to.
type ThreadKind string

const (
	ThreadDirect  ThreadKind = "direct"  // private messages with one person
	ThreadComment ThreadKind = "comment" // the comments under one post or media
	ThreadReview  ThreadKind = "review"  // one review and its replies
)

// Direction of a message, seen from the business.
type Direction string

const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound" // echoes of the business's own sends, its own comments
)

// MessageAction says whether the event creates, edits or deletes a message.
type MessageAction string

const (
	ActionCreated MessageAction = "created"
	ActionEdited  MessageAction = "edited"
	ActionDeleted MessageAction = "deleted"
)

// Message is a DM, comment or review.
type Message struct {
	// ExternalID is the platform's id of the message; unique per channel.
	ExternalID string
	Action     MessageAction
	Direction  Direction

	ThreadKind ThreadKind
	// ThreadID groups messages into one conversation: the person for DMs,
	// the post or media for comments, the review for reviews.
	ThreadID      string
	ThreadSubject string // e.g. the post's text
	ThreadURL     string // e.g. the post's permalink

	// ParentID is the comment this comment answers, if any.
	ParentID string
	// ReplyToID is the message this message quotes, if any.
	ReplyToID string

	Contact Contact
	// Type is the platform's message type: text, image, audio, ...;
	// "unsupported" for what the platform could not render.
	Type        string
	Text        string
	Attachments []Attachment
	// Rating is a review's stars (1-5), 0 otherwise.
	Rating    int
	Timestamp time.Time
	// Metadata carries what has no field of its own: quick-reply payloads,
	// ad referrals, story links, ... Keys are connector-defined.
	Metadata map[string]string
}

// Contact is the person behind a message.
type Contact struct {
	ExternalID string
	Name       string
	Username   string
	Phone      string
	AvatarURL  string
}

// Attachment is media or a structured payload attached to a message.
type Attachment struct {
	Type       string // image, video, audio, file, sticker, location, ...
	URL        string
	MimeType   string
	Caption    string
	ExternalID string
	Name       string
}

// DeliveryStatus of an outbound message.
type DeliveryStatus string

const (
	StatusSent      DeliveryStatus = "sent"
	StatusDelivered DeliveryStatus = "delivered"
	StatusRead      DeliveryStatus = "read"
	StatusFailed    DeliveryStatus = "failed"
)

// StatusUpdate reports on a message the business sent.
type StatusUpdate struct {
	MessageExternalID string
	Status            DeliveryStatus
	RecipientID       string
	Timestamp         time.Time
	Error             *Error
}

// AccountEvent says something happened to the account itself.
type AccountEvent struct {
	// Type: "authorization_removed", "token_expiring", ...
	Type   string
	Detail map[string]string
}

// SendKind is the kind of reply.
type SendKind string

const (
	SendDirect         SendKind = "direct"          // a DM
	SendCommentPublic  SendKind = "comment_public"  // a public reply under a comment
	SendCommentPrivate SendKind = "comment_private" // a private reply to a comment
	SendReviewReply    SendKind = "review_reply"    // a reply to a review
)

// SendRequest is one outbound message.
type SendRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
	Kind        SendKind
	// RecipientID is the person (DM), the comment (comment replies) or the
	// review being answered.
	RecipientID string
	ThreadID    string
	// ReplyToID quotes a message, where the platform supports it.
	ReplyToID   string
	Text        string
	Template    *Template
	Attachments []Attachment
	// HumanAgent marks a message written by a person, which some platforms
	// allow outside the automated window (Messenger's HUMAN_AGENT tag).
	HumanAgent bool
	// IdempotencyKey is stable across retries of the same send.
	IdempotencyKey string
}

// Template is a pre-approved message template (WhatsApp).
type Template struct {
	Name     string
	Language string
	// ComponentsJSON is the platform's components array, as JSON.
	ComponentsJSON []byte
}

// SendResult is the platform's answer to a send.
type SendResult struct {
	ExternalID string
	Status     DeliveryStatus
}

// Post is content to publish.
type Post struct {
	// Format: "feed", "photo", "carousel", "reel", "story", "video", "offer", ...
	Format      string
	Title       string
	Text        string
	Link        string
	Media       []Media
	ScheduledAt time.Time
	Options     map[string]string
}

// Media is a photo or video at a public URL.
type Media struct {
	Type string // image, video
	URL  string
}

// PublishRequest publishes a post on an account.
type PublishRequest struct {
	App            App
	Credentials    Credentials
	AccountID      string
	Platform       string
	Post           Post
	IdempotencyKey string
}

// PublishState of a post.
type PublishState string

const (
	PublishPending    PublishState = "pending"
	PublishProcessing PublishState = "processing"
	PublishScheduled  PublishState = "scheduled"
	PublishPublished  PublishState = "published"
	PublishFailed     PublishState = "failed"
	// PublishNotFound answers a PublishStatus lookup by idempotency key
	// that found no such post: publishing it again is safe.
	PublishNotFound PublishState = "not_found"
)

// PublishResult reports a post's state.
type PublishResult struct {
	ExternalID string
	State      PublishState
	URL        string
	Error      *Error
}

// PublishStatusRequest asks for a post's state.
type PublishStatusRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
	Platform    string
	ExternalID  string
	// With no ExternalID (a publish interrupted before its id was
	// recorded), the connector looks the post up by these: the key it was
	// published with, its content and how recent it can be, and answers
	// PublishNotFound when it does not exist. Added in protocol 1.1.
	IdempotencyKey string
	Post           *Post
	Since          time.Time
}

// SyncRequest pulls one page of what the platform does not push.
type SyncRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
	Cursor      string
	Since       time.Time
	// Only asks for exactly these items (a notification named them)
	// instead of a page. Added in protocol 1.1.
	Only []string
}

// SyncResult is one page of pulled events.
type SyncResult struct {
	Events     []*Event
	NextCursor string
	More       bool
}

// CredentialsRequest names a channel's credentials.
type CredentialsRequest struct {
	App         App
	Credentials Credentials
	AccountID   string
}

// AccountInfo describes the account credentials open.
type AccountInfo struct {
	AccountID string
	Name      string
	Platform  string
	Scopes    []string
	ExpiresAt time.Time
}
