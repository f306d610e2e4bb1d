package meta

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// flexString is a string or a number in the platform's JSON.
type flexString = sdk.FlexString

// flexBool accepts true/false and the strings "true"/"false".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(bytes.TrimSpace(b)), `"`) {
	case "true", "1":
		*f = true
	default:
		*f = false
	}
	return nil
}

// parseTime reads Meta's timestamps: epoch milliseconds (Messenger),
// epoch seconds (changes), or ISO 8601 text. The zero time means absent.
func parseTime(s flexString) time.Time {
	v := strings.TrimSpace(string(s))
	if v == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 || n > 1e15 {
			return time.Time{}
		}
		if n >= 1e12 {
			return time.UnixMilli(int64(n)).UTC()
		}
		return time.Unix(int64(n), 0).UTC()
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID        flexString  `json:"id"`
	Time      flexString  `json:"time"`
	Messaging []messaging `json:"messaging"`
	Standby   []messaging `json:"standby"`
	Changes   []change    `json:"changes"`
}

type party struct {
	ID       flexString `json:"id"`
	Name     string     `json:"name"`
	Username string     `json:"username"`
}

type messaging struct {
	Sender      party       `json:"sender"`
	Recipient   party       `json:"recipient"`
	Timestamp   flexString  `json:"timestamp"`
	Message     *message    `json:"message"`
	MessageEdit *msgEdit    `json:"message_edit"`
	Read        *readEvt    `json:"read"`
	Delivery    *deliveryEv `json:"delivery"`
	Postback    *postback   `json:"postback"`
}

type message struct {
	MID           flexString                 `json:"mid"`
	Text          string                     `json:"text"`
	IsEcho        flexBool                   `json:"is_echo"`
	IsDeleted     flexBool                   `json:"is_deleted"`
	IsUnsupported flexBool                   `json:"is_unsupported"`
	QuickReply    *struct{ Payload string }  `json:"quick_reply"`
	ReplyTo       *replyTo                   `json:"reply_to"`
	Attachments   []attachment               `json:"attachments"`
	Referral      map[string]json.RawMessage `json:"referral"`
	AppID         flexString                 `json:"app_id"`
}

type replyTo struct {
	MID   flexString `json:"mid"`
	Story *struct {
		URL string     `json:"url"`
		ID  flexString `json:"id"`
	} `json:"story"`
}

type attachment struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	URL     string `json:"url"`
	Payload *struct {
		URL         string     `json:"url"`
		Title       string     `json:"title"`
		StickerID   flexString `json:"sticker_id"`
		ReelVideoID flexString `json:"reel_video_id"`
		ID          flexString `json:"id"`
	} `json:"payload"`
}

type msgEdit struct {
	MID  flexString `json:"mid"`
	Text string     `json:"text"`
}

type readEvt struct {
	Watermark flexString `json:"watermark"`
	MID       flexString `json:"mid"`
}

type deliveryEv struct {
	MIDs      []flexString `json:"mids"`
	Watermark flexString   `json:"watermark"`
}

type postback struct {
	MID     flexString `json:"mid"`
	Title   string     `json:"title"`
	Payload string     `json:"payload"`
}

type change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

type feedValue struct {
	Item        string     `json:"item"`
	Verb        string     `json:"verb"`
	CommentID   flexString `json:"comment_id"`
	PostID      flexString `json:"post_id"`
	ParentID    flexString `json:"parent_id"`
	Message     string     `json:"message"`
	CreatedTime flexString `json:"created_time"`
	From        party      `json:"from"`
	Photo       string     `json:"photo"`
	Video       string     `json:"video"`
	Post        *struct {
		ID           flexString `json:"id"`
		Message      string     `json:"message"`
		PermalinkURL string     `json:"permalink_url"`
		StatusType   string     `json:"status_type"`
	} `json:"post"`
}

type igCommentValue struct {
	ID        flexString `json:"id"`
	CommentID flexString `json:"comment_id"`
	ParentID  flexString `json:"parent_id"`
	Text      string     `json:"text"`
	Timestamp flexString `json:"timestamp"`
	From      party      `json:"from"`
	Media     *struct {
		ID               flexString `json:"id"`
		MediaProductType string     `json:"media_product_type"`
	} `json:"media"`
}

func (c *connector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	// The signature covers the exact bytes received: verify before
	// parsing, so nothing from an unsigned body is ever looked at.
	if err := sdk.VerifyHubSignature256(req.App.ClientSecret, req.Body, sdk.HeaderValue(req.Header, "X-Hub-Signature-256")); err != nil {
		return nil, err
	}
	events, err := parseDelivery(req.Body, req.ReceivedAt)
	if err != nil {
		return nil, err
	}
	return &sdk.WebhookResult{Events: events}, nil
}

// parseDelivery turns one signed delivery into events. Unknown fields and
// event kinds are skipped rather than failing the delivery: a 4xx would
// make Meta retry it for hours and eventually unsubscribe the app.
func parseDelivery(body []byte, receivedAt time.Time) ([]*sdk.Event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "invalid JSON: %v", err)
	}
	var platform string
	switch env.Object {
	case "page":
		platform = PlatformFacebook
	case "instagram":
		platform = PlatformInstagram
	default:
		return nil, sdk.NewError(sdk.ClassMalformed, "", "unknown object %q", env.Object)
	}
	if receivedAt.IsZero() {
		receivedAt = time.Now().UTC()
	}
	p := &parser{platform: platform, receivedAt: receivedAt}
	for i := range env.Entry {
		e := &env.Entry[i]
		p.account = string(e.ID)
		p.entryTime = parseTime(e.Time)
		for j := range e.Messaging {
			p.messaging(&e.Messaging[j], false)
		}
		for j := range e.Standby {
			p.messaging(&e.Standby[j], true)
		}
		for j := range e.Changes {
			if err := p.change(&e.Changes[j]); err != nil {
				return nil, err
			}
		}
	}
	return p.events, nil
}

type parser struct {
	platform   string
	account    string
	entryTime  time.Time
	receivedAt time.Time
	events     []*sdk.Event
}

// when picks the first known time: the event's own, the entry's, then
// the time the delivery was received.
func (p *parser) when(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	if !p.entryTime.IsZero() {
		return p.entryTime
	}
	return p.receivedAt
}

func (p *parser) add(ev *sdk.Event) {
	if ev.Message != nil && ev.Message.ExternalID == "" {
		// The host deduplicates on the external id; Meta always sends
		// one, so an event without it is not worth a broken row.
		return
	}
	ev.Platform = p.platform
	ev.AccountID = p.account
	p.events = append(p.events, ev)
}

func (p *parser) messaging(m *messaging, standby bool) {
	at := p.when(parseTime(m.Timestamp))
	sender := string(m.Sender.ID)
	switch {
	case m.Message != nil:
		p.add(&sdk.Event{Kind: sdk.EventMessage, OccurredAt: at, Message: p.directMessage(m, standby, at)})
	case m.MessageEdit != nil:
		msg := p.directBase(m, standby, at)
		msg.ExternalID = string(m.MessageEdit.MID)
		msg.Action = sdk.ActionEdited
		msg.Type = "text"
		msg.Text = m.MessageEdit.Text
		p.add(&sdk.Event{Kind: sdk.EventMessage, OccurredAt: at, Message: msg})
	case m.Postback != nil:
		msg := p.directBase(m, standby, at)
		msg.ExternalID = string(m.Postback.MID)
		msg.Type = "postback"
		msg.Text = m.Postback.Title
		if m.Postback.Payload != "" {
			msg.Metadata["postback_payload"] = m.Postback.Payload
		}
		p.add(&sdk.Event{Kind: sdk.EventMessage, OccurredAt: at, Message: msg})
	case m.Read != nil:
		// A read is reported by the customer (the sender) about what the
		// business sent. Messenger gives a watermark: everything sent
		// up to that time is read; Instagram names one message.
		st := &sdk.StatusUpdate{MessageExternalID: string(m.Read.MID), Status: sdk.StatusRead, RecipientID: sender, Timestamp: at}
		if w := parseTime(m.Read.Watermark); !w.IsZero() {
			st.Timestamp = w
		}
		p.add(&sdk.Event{Kind: sdk.EventStatus, OccurredAt: at, Status: st})
	case m.Delivery != nil:
		ts := at
		if w := parseTime(m.Delivery.Watermark); !w.IsZero() {
			ts = w
		}
		if len(m.Delivery.MIDs) == 0 {
			p.add(&sdk.Event{Kind: sdk.EventStatus, OccurredAt: at, Status: &sdk.StatusUpdate{Status: sdk.StatusDelivered, RecipientID: sender, Timestamp: ts}})
		}
		for _, mid := range m.Delivery.MIDs {
			p.add(&sdk.Event{Kind: sdk.EventStatus, OccurredAt: at, Status: &sdk.StatusUpdate{
				MessageExternalID: string(mid), Status: sdk.StatusDelivered, RecipientID: sender, Timestamp: ts}})
		}
	default:
		// Reactions, optins, referrals without a message, handover
		// protocol notices: nothing the inbox stores yet.
	}
}

// directBase fills what every DM-shaped event shares: thread, contact and
// direction. The thread is always the customer, whichever way the message
// went.
func (p *parser) directBase(m *messaging, standby bool, at time.Time) *sdk.Message {
	sender, recipient := m.Sender, m.Recipient
	outbound := m.Message != nil && bool(m.Message.IsEcho) || p.account != "" && string(sender.ID) == p.account
	customer := sender
	dir := sdk.Inbound
	if outbound {
		customer = recipient
		dir = sdk.Outbound
	}
	msg := &sdk.Message{
		Action:     sdk.ActionCreated,
		Direction:  dir,
		ThreadKind: sdk.ThreadDirect,
		ThreadID:   string(customer.ID),
		Contact:    sdk.Contact{ExternalID: string(customer.ID), Name: customer.Name, Username: customer.Username},
		Timestamp:  at,
		Metadata:   map[string]string{},
	}
	if standby {
		// Another app owns the conversation (handover protocol): keep
		// the message, but the host must not answer it.
		msg.Metadata["standby"] = "true"
	}
	return msg
}

func (p *parser) directMessage(m *messaging, standby bool, at time.Time) *sdk.Message {
	in := m.Message
	msg := p.directBase(m, standby, at)
	msg.ExternalID = string(in.MID)
	msg.Text = in.Text
	msg.Type = "text"
	for _, a := range in.Attachments {
		att := sdk.Attachment{Type: a.Type, URL: a.URL, Name: a.Title}
		if a.Payload != nil {
			if a.Payload.URL != "" {
				att.URL = a.Payload.URL
			}
			if att.Name == "" {
				att.Name = a.Payload.Title
			}
			att.ExternalID = cmp.Or(string(a.Payload.ReelVideoID), string(a.Payload.StickerID), string(a.Payload.ID))
		}
		if att.Type == "" {
			att.Type = "fallback"
		}
		msg.Attachments = append(msg.Attachments, att)
	}
	if len(msg.Attachments) > 0 && in.Text == "" {
		msg.Type = msg.Attachments[0].Type
	}
	if in.QuickReply != nil && in.QuickReply.Payload != "" {
		msg.Metadata["quick_reply_payload"] = in.QuickReply.Payload
	}
	if in.ReplyTo != nil {
		msg.ReplyToID = string(in.ReplyTo.MID)
		if s := in.ReplyTo.Story; s != nil {
			msg.Metadata["story_url"] = s.URL
			msg.Metadata["story_id"] = string(s.ID)
		}
	}
	flatten(msg.Metadata, "referral", in.Referral)
	if in.IsEcho && in.AppID != "" {
		// Which app sent the echo: the host may tell its own sends from
		// a person's answer in the Meta inbox.
		msg.Metadata["app_id"] = string(in.AppID)
	}
	if in.IsDeleted {
		msg.Action = sdk.ActionDeleted
	}
	if in.IsUnsupported {
		msg.Type = "unsupported"
	}
	return msg
}

// flatten copies a JSON object's scalar fields into meta as
// prefix_key (nested objects as prefix_key_sub), so ad referrals keep
// their ad id, ref and context without a schema of their own.
func flatten(meta map[string]string, prefix string, obj map[string]json.RawMessage) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := bytes.TrimSpace(obj[k])
		name := prefix + "_" + k
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		switch raw[0] {
		case '{':
			var sub map[string]json.RawMessage
			if json.Unmarshal(raw, &sub) == nil && len(prefix) < 64 {
				flatten(meta, name, sub)
			}
		case '"':
			var s string
			if json.Unmarshal(raw, &s) == nil {
				meta[name] = s
			}
		case '[':
			meta[name] = string(raw)
		default:
			meta[name] = string(raw)
		}
	}
}

func (p *parser) change(ch *change) error {
	switch {
	case p.platform == PlatformFacebook && ch.Field == "feed":
		var v feedValue
		if err := json.Unmarshal(ch.Value, &v); err != nil {
			return sdk.NewError(sdk.ClassMalformed, "", "feed change: %v", err)
		}
		p.feedComment(&v)
	case p.platform == PlatformInstagram && (ch.Field == "comments" || ch.Field == "live_comments"):
		var v igCommentValue
		if err := json.Unmarshal(ch.Value, &v); err != nil {
			return sdk.NewError(sdk.ClassMalformed, "", "%s change: %v", ch.Field, err)
		}
		p.igComment(&v, ch.Field == "live_comments")
	case ch.Field == "messages":
		// Instagram Login apps (and Meta's test button) deliver DMs as a
		// change whose value has the messaging shape.
		var m messaging
		if err := json.Unmarshal(ch.Value, &m); err != nil {
			return sdk.NewError(sdk.ClassMalformed, "", "messages change: %v", err)
		}
		p.messaging(&m, false)
	}
	// mentions, reactions, posts, ratings...: not stored yet (docs/meta.md).
	return nil
}

func (p *parser) feedComment(v *feedValue) {
	if v.Item != "comment" {
		return
	}
	var action sdk.MessageAction
	switch v.Verb {
	case "add":
		action = sdk.ActionCreated
	case "edited":
		action = sdk.ActionEdited
	case "remove":
		action = sdk.ActionDeleted
	default:
		// hide/unhide change visibility, not content.
		return
	}
	postID := string(v.PostID)
	if postID == "" && v.Post != nil {
		postID = string(v.Post.ID)
	}
	at := p.when(parseTime(v.CreatedTime))
	msg := &sdk.Message{
		ExternalID: string(v.CommentID),
		Action:     action,
		Direction:  sdk.Inbound,
		ThreadKind: sdk.ThreadComment,
		ThreadID:   postID,
		Contact:    sdk.Contact{ExternalID: string(v.From.ID), Name: v.From.Name},
		Type:       "text",
		Text:       v.Message,
		Timestamp:  at,
		Metadata:   map[string]string{},
	}
	if parent := string(v.ParentID); parent != "" && parent != postID {
		msg.ParentID = parent
	}
	if v.Post != nil {
		msg.ThreadSubject = v.Post.Message
		msg.ThreadURL = v.Post.PermalinkURL
	}
	if p.account != "" && string(v.From.ID) == p.account {
		msg.Direction = sdk.Outbound
	}
	if v.Photo != "" {
		msg.Attachments = append(msg.Attachments, sdk.Attachment{Type: "image", URL: v.Photo})
	}
	if v.Video != "" {
		msg.Attachments = append(msg.Attachments, sdk.Attachment{Type: "video", URL: v.Video})
	}
	if msg.Text == "" && len(msg.Attachments) > 0 {
		msg.Type = msg.Attachments[0].Type
	}
	p.add(&sdk.Event{Kind: sdk.EventMessage, OccurredAt: at, Message: msg})
}

func (p *parser) igComment(v *igCommentValue, live bool) {
	at := p.when(parseTime(v.Timestamp))
	msg := &sdk.Message{
		ExternalID: cmp.Or(string(v.ID), string(v.CommentID)),
		Action:     sdk.ActionCreated,
		Direction:  sdk.Inbound,
		ThreadKind: sdk.ThreadComment,
		ParentID:   string(v.ParentID),
		Contact:    sdk.Contact{ExternalID: string(v.From.ID), Username: v.From.Username, Name: v.From.Name},
		Type:       "text",
		Text:       v.Text,
		Timestamp:  at,
		Metadata:   map[string]string{},
	}
	if v.Media != nil {
		msg.ThreadID = string(v.Media.ID)
		if v.Media.MediaProductType != "" {
			msg.Metadata["media_product_type"] = v.Media.MediaProductType
		}
	}
	if live {
		msg.Metadata["live"] = "true"
	}
	if p.account != "" && string(v.From.ID) == p.account {
		msg.Direction = sdk.Outbound
	}
	p.add(&sdk.Event{Kind: sdk.EventMessage, OccurredAt: at, Message: msg})
}
