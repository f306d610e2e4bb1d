package tiktok

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// SignatureHeader carries "t=<unix>,s=<hex>" on every delivery.
const SignatureHeader = "Tiktok-Signature"

// SignatureTolerance is how far a delivery's timestamp may be from the
// time it is received, either way, before it is refused as a replay.
const SignatureTolerance = 5 * time.Minute

// Event names the connector reads. Direct messages are documented under
// two spellings by different sources; both are accepted.
const (
	EventReceiveMessage      = "im_receive_msg"
	EventSendMessage         = "im_send_msg"
	EventReceiveMessageAlt   = "direct_message.receive"
	EventSendMessageAlt      = "direct_message.send"
	EventAuthorizationRemove = "authorization.removed"
	EventVideoPublished      = "video.publish.completed"
	EventVideoUploadFailed   = "video.upload.failed"
	EventPostComplete        = "post.publish.complete"
	EventPostCompleted       = "post.publish.completed"
	EventPostFailed          = "post.publish.failed"
	EventPostPublic          = "post.publish.publicly_available"
	EventPostInbox           = "post.publish.inbox_delivered"
	EventCommentUpdate       = "comment.update"
)

// AccountRemoved is the AccountEvent type of authorization.removed.
const AccountRemoved = "authorization_removed"

// NotifyCommentUpdate is the Notification type of a comment.update that
// names a comment to fetch with Sync{Only}.
const NotifyCommentUpdate = "comment.update"

// flexString is a string or a number in the platform's JSON.
type flexString = sdk.FlexString

// flexInt accepts a JSON number or a numeric string; anything else is 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil && x > -9e18 && x < 9e18 {
		*f = flexInt(x)
		return nil
	}
	*f = 0
	return nil
}

// epoch reads a timestamp in seconds or milliseconds; zero or absurd
// values read as the zero time.
func epoch(v flexInt) time.Time {
	n := int64(v)
	switch {
	case n <= 0 || n > 1e15:
		return time.Time{}
	case n >= 1e12:
		return time.UnixMilli(n).UTC()
	default:
		return time.Unix(n, 0).UTC()
	}
}

// envelope is every TikTok webhook's body.
type envelope struct {
	ClientKey  string          `json:"client_key"`
	Event      string          `json:"event"`
	CreateTime flexInt         `json:"create_time"`
	UserOpenID flexString      `json:"user_openid"`
	Content    json.RawMessage `json:"content"`
}

// content decodes the envelope's content: a JSON document serialized into
// a string (an object is accepted too).
func (e *envelope) content(v any) error {
	raw := bytes.TrimSpace(e.Content)
	if len(raw) == 0 || string(raw) == "null" {
		return sdk.NewError(sdk.ClassMalformed, "", "%s: no content", e.Event)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return sdk.NewError(sdk.ClassMalformed, "", "%s: content: %v", e.Event, err)
		}
		raw = []byte(s)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return sdk.NewError(sdk.ClassMalformed, "", "%s: content is not a JSON object: %v", e.Event, err)
	}
	return nil
}

func (c *connector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	now := req.ReceivedAt
	if now.IsZero() {
		now = c.now()
	}
	// The signature covers the exact bytes received: verify it (and the
	// timestamp, against replays) before anything is parsed.
	if err := sdk.VerifyTikTokSignature(clientSecret(req.App), req.Body,
		sdk.HeaderValue(req.Header, SignatureHeader), now, SignatureTolerance); err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(req.Body, &env); err != nil {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "invalid JSON: %v", err)
	}
	if env.Event == "" {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "no event name")
	}
	if key := clientKey(req.App); key != "" && env.ClientKey != "" && env.ClientKey != key {
		// Signed with our secret yet addressed to another app: never
		// trust it.
		return nil, sdk.NewError(sdk.ClassUnauthenticated, "", "delivery for another client key")
	}
	events, err := parseEvent(&env, now)
	if err != nil {
		return nil, err
	}
	return &sdk.WebhookResult{Events: events}, nil
}

// parseEvent turns one envelope into events. Unknown events are skipped
// rather than refused: an error would make TikTok retry them for 72 hours.
func parseEvent(env *envelope, receivedAt time.Time) ([]*sdk.Event, error) {
	account := string(env.UserOpenID)
	at := cmp.Or(epoch(env.CreateTime), receivedAt.UTC())
	newEvent := func(kind sdk.EventKind, when time.Time) *sdk.Event {
		return &sdk.Event{Kind: kind, Platform: Platform, AccountID: account, OccurredAt: cmp.Or(when, at)}
	}
	known := true
	switch env.Event {
	case EventReceiveMessage, EventSendMessage, EventReceiveMessageAlt, EventSendMessageAlt,
		EventAuthorizationRemove, EventVideoPublished, EventVideoUploadFailed, EventPostComplete,
		EventPostCompleted, EventPostFailed, EventPostPublic, EventPostInbox, EventCommentUpdate:
	default:
		known = false
	}
	if !known {
		// im_receive_msg_eu (stripped of its content), mentions,
		// post.publish.no_longer_publicaly_available, ...: nothing to store.
		return nil, nil
	}
	if account == "" {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "%s: no user_openid to route it by", env.Event)
	}
	switch env.Event {
	case EventReceiveMessage, EventSendMessage, EventReceiveMessageAlt, EventSendMessageAlt:
		var dm dmContent
		if err := env.content(&dm); err != nil {
			return nil, err
		}
		msg := directMessage(env.Event, account, &dm)
		if msg == nil {
			return nil, nil
		}
		msg.Timestamp = cmp.Or(msg.Timestamp, at)
		ev := newEvent(sdk.EventMessage, msg.Timestamp)
		ev.Message = msg
		return []*sdk.Event{ev}, nil

	case EventAuthorizationRemove:
		var v struct {
			Reason flexInt `json:"reason"`
		}
		if err := env.content(&v); err != nil {
			return nil, err
		}
		ev := newEvent(sdk.EventAccount, at)
		ev.Account = &sdk.AccountEvent{Type: AccountRemoved, Detail: map[string]string{
			"reason":      strconv.FormatInt(int64(v.Reason), 10),
			"reason_text": removalReason(int64(v.Reason)),
		}}
		return []*sdk.Event{ev}, nil

	case EventCommentUpdate:
		var v commentUpdate
		if err := env.content(&v); err != nil {
			return nil, err
		}
		ev := commentUpdateEvent(&v)
		if ev == nil {
			return nil, nil
		}
		ev.Platform, ev.AccountID = Platform, account
		ev.OccurredAt = cmp.Or(epoch(v.Timestamp), at)
		if ev.Message != nil {
			ev.Message.Timestamp = ev.OccurredAt
		}
		return []*sdk.Event{ev}, nil

	default:
		var v struct {
			PublishID  flexString `json:"publish_id"`
			ShareID    flexString `json:"share_id"`
			PostID     flexString `json:"post_id"`
			Reason     string     `json:"reason"`
			FailReason string     `json:"fail_reason"`
		}
		if err := env.content(&v); err != nil {
			return nil, err
		}
		id := cmp.Or(string(v.PublishID), string(v.ShareID))
		if id == "" {
			return nil, nil
		}
		res := &sdk.PublishResult{ExternalID: id}
		switch env.Event {
		case EventVideoPublished, EventPostComplete, EventPostCompleted, EventPostPublic:
			res.State = sdk.PublishPublished
		case EventPostInbox:
			res.State = sdk.PublishProcessing
		case EventVideoUploadFailed:
			res.State = sdk.PublishFailed
			res.Error = failError(cmp.Or(v.Reason, v.FailReason, "upload_failed"))
		case EventPostFailed:
			res.State = sdk.PublishFailed
			res.Error = failError(cmp.Or(v.Reason, v.FailReason, "unknown"))
		}
		ev := newEvent(sdk.EventPublish, at)
		ev.Publish = res
		return []*sdk.Event{ev}, nil
	}
}

var removalReasons = map[int64]string{
	0: "unknown",
	1: "the user disconnected the app in TikTok",
	2: "the user's account was deleted",
	3: "the user's age changed",
	4: "the user's account was banned",
	5: "the developer revoked the authorization",
}

func removalReason(n int64) string {
	return cmp.Or(removalReasons[n], "unknown")
}

// textField is a message's text: {"body": "..."}, or a plain string.
type textField string

func (t *textField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = textField(s)
		return nil
	}
	var v struct {
		Body string `json:"body"`
	}
	if string(b) != "null" {
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
	}
	*t = textField(v.Body)
	return nil
}

type dmUser struct {
	ID   flexString `json:"id"`
	Role string     `json:"role"`
}

type dmMedia struct {
	MediaID     flexString `json:"media_id"`
	URL         string     `json:"url"`
	DownloadURL string     `json:"download_url"`
	MimeType    string     `json:"mime_type"`
}

type dmContent struct {
	ConversationID flexString `json:"conversation_id"`
	MessageID      flexString `json:"message_id"`
	Timestamp      flexInt    `json:"timestamp"`
	Type           string     `json:"type"`
	Text           textField  `json:"text"`
	Image          *dmMedia   `json:"image"`
	Video          *dmMedia   `json:"video"`
	Sticker        *dmMedia   `json:"sticker"`
	Emoji          *dmMedia   `json:"emoji"`
	SharePost      *struct {
		VideoID  flexString `json:"video_id"`
		EmbedURL string     `json:"embed_url"`
		ShareURL string     `json:"share_url"`
		URL      string     `json:"url"`
	} `json:"share_post"`
	FromUser         dmUser `json:"from_user"`
	ToUser           dmUser `json:"to_user"`
	From             string `json:"from"`
	To               string `json:"to"`
	UniqueIdentifier string `json:"unique_identifier"`
	Referenced       *struct {
		MessageID flexString `json:"referenced_message_id"`
	} `json:"referenced_message_info"`
	MessageTag *struct {
		Source string `json:"source"`
	} `json:"message_tag"`
	IsFollower *bool `json:"is_follower"`
}

// directMessage maps a DM event. The thread is the TikTok conversation;
// the contact is the customer whichever way the message went. It answers
// nil for a message without the ids the host deduplicates and threads on.
func directMessage(event, account string, dm *dmContent) *sdk.Message {
	if dm.MessageID == "" || dm.ConversationID == "" {
		return nil
	}
	from, to := string(dm.FromUser.ID), string(dm.ToUser.ID)
	outbound := event == EventSendMessage || event == EventSendMessageAlt || from != "" && from == account ||
		strings.EqualFold(dm.FromUser.Role, "business_account")
	msg := &sdk.Message{
		ExternalID: string(dm.MessageID),
		Action:     sdk.ActionCreated,
		Direction:  sdk.Inbound,
		ThreadKind: sdk.ThreadDirect,
		ThreadID:   string(dm.ConversationID),
		Text:       string(dm.Text),
		Timestamp:  epoch(dm.Timestamp),
		Metadata:   map[string]string{"tiktok_event": event},
	}
	if outbound {
		// Echoes of what the business sent (here, in the TikTok app or
		// another tool): stored, never answered.
		msg.Direction = sdk.Outbound
		msg.Contact = sdk.Contact{ExternalID: to, Name: dm.To}
	} else {
		msg.Contact = sdk.Contact{ExternalID: cmp.Or(from, dm.UniqueIdentifier), Name: dm.From}
	}
	if dm.MessageTag != nil && dm.MessageTag.Source != "" {
		msg.Metadata["message_source"] = dm.MessageTag.Source
	}
	if dm.IsFollower != nil {
		msg.Metadata["is_follower"] = strconv.FormatBool(*dm.IsFollower)
	}
	if dm.Referenced != nil {
		msg.ReplyToID = string(dm.Referenced.MessageID)
	}
	media := func(kind string, m *dmMedia) {
		if m == nil {
			return
		}
		msg.Attachments = append(msg.Attachments, sdk.Attachment{
			Type: kind, URL: cmp.Or(m.URL, m.DownloadURL), ExternalID: string(m.MediaID), MimeType: m.MimeType,
		})
	}
	typ := strings.ToLower(strings.TrimSpace(dm.Type))
	if typ == "" && dm.Text != "" {
		typ = "text"
	}
	switch typ {
	case "text":
		msg.Type = "text"
	case "image":
		msg.Type = "image"
		media("image", dm.Image)
	case "video":
		msg.Type = "video"
		media("video", dm.Video)
	case "sticker":
		msg.Type = "sticker"
		media("sticker", dm.Sticker)
	case "emoji":
		msg.Type = "emoji"
		media("image", dm.Emoji)
	case "share_post":
		msg.Type = "share_post"
		if sp := dm.SharePost; sp != nil {
			link := cmp.Or(sp.ShareURL, sp.EmbedURL, sp.URL)
			msg.Attachments = append(msg.Attachments, sdk.Attachment{Type: "share_post", URL: link, ExternalID: string(sp.VideoID)})
			if sp.VideoID != "" {
				msg.Metadata["shared_video_id"] = string(sp.VideoID)
			}
			if link != "" {
				msg.Metadata["shared_url"] = link
			}
		}
	default:
		// Templates, reactions and whatever TikTok adds later: kept,
		// marked, never dropped.
		msg.Type = "unsupported"
		msg.Metadata["tiktok_type"] = cmp.Or(typ, "unknown")
	}
	return msg
}

type commentUpdate struct {
	CommentID        flexString `json:"comment_id"`
	VideoID          flexString `json:"video_id"`
	ParentCommentID  flexString `json:"parent_comment_id"`
	CommentType      string     `json:"comment_type"`
	CommentAction    string     `json:"comment_action"`
	UniqueIdentifier string     `json:"unique_identifier"`
	Timestamp        flexInt    `json:"timestamp"`
}

// commentUpdateEvent maps comment.update, which carries ids and no text: a
// deletion becomes a deleted comment (the only record of it), anything
// else a notification naming the comment for Sync{Only} to fetch.
func commentUpdateEvent(v *commentUpdate) *sdk.Event {
	if v.CommentID == "" || v.VideoID == "" {
		return nil
	}
	if strings.EqualFold(v.CommentAction, "delete") {
		msg := &sdk.Message{
			ExternalID: string(v.CommentID),
			Action:     sdk.ActionDeleted,
			Direction:  sdk.Inbound,
			ThreadKind: sdk.ThreadComment,
			ThreadID:   string(v.VideoID),
			ParentID:   parentID(v.ParentCommentID, v.CommentID),
			Type:       "text",
			Metadata:   map[string]string{"comment_action": "delete"},
		}
		return &sdk.Event{Kind: sdk.EventMessage, Message: msg}
	}
	return &sdk.Event{Kind: sdk.EventNotify, Notify: &sdk.Notification{
		Type:       NotifyCommentUpdate,
		ThreadKind: sdk.ThreadComment,
		ItemID:     CommentItemID(string(v.VideoID), string(v.CommentID)),
	}}
}

// CommentItemID names a comment for Sync{Only}: "<video id>:<comment id>".
func CommentItemID(videoID, commentID string) string { return videoID + ":" + commentID }

// parentID keeps a parent id that names another comment ("0" and the
// comment itself mean a top-level comment).
func parentID(parent, self flexString) string {
	p := strings.TrimSpace(string(parent))
	if p == "" || p == "0" || p == string(self) {
		return ""
	}
	return p
}

// failReasons are fail_reason values and what to do about them.
var failReasons = map[string]struct {
	class sdk.ErrorClass
	hint  string
}{
	"internal":                           {sdk.ClassRetryable, "TikTok had a temporary failure: publishing again may work"},
	"video_pull_failed":                  {sdk.ClassRetryable, "TikTok could not download the video from its URL (not public, too slow, or over the one-hour limit)"},
	"photo_pull_failed":                  {sdk.ClassRetryable, "TikTok could not download the photo from its URL"},
	"auth_removed":                       {sdk.ClassAuthRevoked, "the account removed the app's access while the post was processing"},
	"file_format_check_failed":           {sdk.ClassPermanent, "TikTok does not accept the video's format"},
	"duration_check_failed":              {sdk.ClassPermanent, "the video's duration is outside TikTok's limits for this account"},
	"frame_rate_check_failed":            {sdk.ClassPermanent, "TikTok does not accept the video's frame rate"},
	"picture_size_check_failed":          {sdk.ClassPermanent, "TikTok does not accept the video's picture size"},
	"publish_cancelled":                  {sdk.ClassPermanent, "the publication was cancelled"},
	"spam_risk_too_many_posts":           {sdk.ClassPermanent, "the account posted too many times through the API in the last 24 hours"},
	"spam_risk_user_banned_from_posting": {sdk.ClassPermanent, "TikTok banned the account from posting"},
	"spam_risk_text":                     {sdk.ClassPermanent, "TikTok judged the caption spam or risky"},
	"spam_risk":                          {sdk.ClassPermanent, "TikTok judged the publication risky"},
}

// failError classifies a publication's fail_reason.
func failError(reason string) *sdk.Error {
	r, ok := failReasons[reason]
	if !ok {
		return sdk.NewError(sdk.ClassPermanent, reason, "TikTok could not publish the video (%s)", reason)
	}
	return sdk.NewError(r.class, reason, "%s", r.hint)
}
