package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// objectWABA is the only webhook object the Cloud API sends.
const objectWABA = "whatsapp_business_account"

// Change fields carrying messages; every other field becomes an account
// event named after it.
const (
	fieldMessages         = "messages"
	fieldSMBMessageEchoes = "smb_message_echoes"
)

// Metadata keys set on messages. They are part of the connector's contract
// with the host and docs/whatsapp.md.
const (
	MetaMediaSHA256        = "media_sha256"
	MetaMediaURL           = "media_url"
	MetaVoice              = "voice"
	MetaAnimated           = "animated"
	MetaLatitude           = "location_latitude"
	MetaLongitude          = "location_longitude"
	MetaLocationURL        = "location_url"
	MetaReactionEmoji      = "reaction_emoji"
	MetaReactionMessageID  = "reaction_message_id"
	MetaInteractiveType    = "interactive_type"
	MetaReplyID            = "reply_id"
	MetaReplyDescription   = "reply_description"
	MetaFlowName           = "flow_name"
	MetaFlowResponseJSON   = "flow_response_json"
	MetaButtonPayload      = "button_payload"
	MetaOrderCatalogID     = "order_catalog_id"
	MetaOrderItems         = "order_items_json"
	MetaSystemType         = "system_type"
	MetaSystemNewWaID      = "system_new_wa_id"
	MetaContextFrom        = "context_from"
	MetaForwarded          = "forwarded"
	MetaFrequentlyFwd      = "frequently_forwarded"
	MetaReferredCatalogID  = "referred_product_catalog_id"
	MetaReferredProductID  = "referred_product_retailer_id"
	MetaReferralPrefix     = "referral_" // + source_url, source_id, source_type, headline, body, media_type, image_url, video_url, thumbnail_url, ctwa_clid
	MetaErrorCode          = "error_code"
	MetaErrorTitle         = "error_title"
	MetaErrorDetails       = "error_details"
	MetaRaw                = "raw"
	MetaParseError         = "parse_error"
	MetaSyntheticID        = "synthetic_id"
	MetaDisplayPhoneNumber = "display_phone_number"
)

// Account event types.
const (
	// AccountWebhookError carries a value.errors[] entry: the platform
	// could not deliver something to this webhook.
	AccountWebhookError = "webhook_error"
)

// maxRaw bounds the raw JSON kept for message types the connector does not
// know, so one odd delivery cannot bloat the database.
const maxRaw = 4096

func (c *connector) HandleWebhook(_ context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	// Verify before parsing: an unsigned body is never even looked at.
	if err := sdk.VerifyHubSignature256(appSecret(req.App), req.Body,
		sdk.HeaderValue(req.Header, "X-Hub-Signature-256")); err != nil {
		return nil, err
	}
	var p webhookPayload
	if err := json.Unmarshal(req.Body, &p); err != nil {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "whatsapp: webhook body does not parse: %v", err)
	}
	if p.Object != objectWABA {
		return nil, sdk.NewError(sdk.ClassMalformed, "", "whatsapp: webhook object is %q, want %q", p.Object, objectWABA)
	}
	received := req.ReceivedAt
	if received.IsZero() {
		received = c.now()
	}
	ps := parser{received: received.UTC()}
	var events []*sdk.Event
	for _, entry := range p.Entry {
		for _, ch := range entry.Changes {
			events = append(events, ps.change(entry, ch)...)
		}
	}
	return &sdk.WebhookResult{Events: events}, nil
}

type parser struct {
	received time.Time
}

func (ps parser) change(entry webhookEntry, ch webhookChange) []*sdk.Event {
	if ch.Field != fieldMessages && ch.Field != fieldSMBMessageEchoes {
		return []*sdk.Event{ps.otherField(entry, ch)}
	}
	var events []*sdk.Event
	var v changeValue
	if len(ch.Value) > 0 {
		// A type error leaves the fields it did not touch decoded: keep
		// them and report the rest.
		if err := json.Unmarshal(ch.Value, &v); err != nil {
			events = append(events, ps.account(string(v.Metadata.PhoneNumberID), AccountWebhookError, map[string]string{
				"field":   ch.Field,
				"waba_id": string(entry.ID),
				"message": fmt.Sprintf("change value does not parse: %v", err),
			}))
		}
	}
	account := string(v.Metadata.PhoneNumberID)
	for _, raw := range v.Messages {
		events = append(events, ps.message(raw, &v, account, sdk.Inbound))
	}
	for _, raw := range v.MessageEchoes {
		events = append(events, ps.message(raw, &v, account, sdk.Outbound))
	}
	for _, raw := range v.Statuses {
		if ev := ps.status(raw, account); ev != nil {
			events = append(events, ev)
		}
	}
	for _, e := range v.Errors {
		events = append(events, ps.account(account, AccountWebhookError, map[string]string{
			"field":   ch.Field,
			"waba_id": string(entry.ID),
			"code":    string(e.Code),
			"title":   e.Title,
			"message": e.Message,
			"details": e.ErrorData.Details,
			"href":    e.Href,
		}))
	}
	return events
}

func (ps parser) account(accountID, typ string, detail map[string]string) *sdk.Event {
	for k, v := range detail {
		if v == "" {
			delete(detail, k)
		}
	}
	return &sdk.Event{
		Kind:       sdk.EventAccount,
		Platform:   Platform,
		AccountID:  accountID,
		OccurredAt: ps.received,
		Account:    &sdk.AccountEvent{Type: typ, Detail: detail},
	}
}

// otherField turns a change the connector has no model for (template
// status, quality rating, account updates, ...) into an account event, so
// the host can log or act on it instead of it vanishing.
func (ps parser) otherField(entry webhookEntry, ch webhookChange) *sdk.Event {
	detail := map[string]string{"field": ch.Field, "waba_id": string(entry.ID)}
	// UseNumber: ids of 17+ digits would lose precision as float64.
	dec := json.NewDecoder(bytes.NewReader(ch.Value))
	dec.UseNumber()
	var v any
	if len(ch.Value) > 0 && dec.Decode(&v) == nil {
		flatten(detail, "", v, 0)
	}
	account := detail["metadata.phone_number_id"]
	if account == "" {
		account = string(entry.ID)
	}
	typ := ch.Field
	if typ == "" {
		typ = "unknown"
	}
	return ps.account(account, typ, detail)
}

const maxDetail = 64

func flatten(out map[string]string, prefix string, v any, depth int) {
	if len(out) >= maxDetail || depth > 4 {
		return
	}
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic under the cap
		for _, k := range keys {
			flatten(out, key(k), t[k], depth+1)
		}
	case []any:
		for i, e := range t {
			flatten(out, key(strconv.Itoa(i)), e, depth+1)
		}
	case nil:
	case string:
		out[prefix] = truncate(t, 512)
	case json.Number:
		out[prefix] = t.String()
	case bool:
		out[prefix] = strconv.FormatBool(t)
	}
}

func (ps parser) message(raw json.RawMessage, v *changeValue, account string, dir sdk.Direction) *sdk.Event {
	var m inMessage
	meta := map[string]string{}
	if err := json.Unmarshal(raw, &m); err != nil {
		meta[MetaParseError] = err.Error()
	}
	msg := &sdk.Message{
		ExternalID: string(m.ID),
		Action:     sdk.ActionCreated,
		Direction:  dir,
		ThreadKind: sdk.ThreadDirect,
		Type:       m.Type,
		Timestamp:  ps.timestamp(m.Timestamp),
	}
	if msg.ExternalID == "" {
		// A message without a wamid still needs a stable id so that
		// redeliveries deduplicate: hash its exact JSON.
		sum := sha256.Sum256(raw)
		msg.ExternalID = "sha256:" + hex.EncodeToString(sum[:16])
		meta[MetaSyntheticID] = "true"
	}

	// The customer is the sender of an inbound message and the recipient
	// of an echo; either way the thread is theirs.
	customer := string(m.From)
	if dir == sdk.Outbound {
		customer = string(m.To)
	}
	msg.ThreadID = customer
	msg.Contact = sdk.Contact{ExternalID: customer, Name: profileName(v, customer), Phone: phone(customer)}
	if dn := string(v.Metadata.DisplayPhoneNumber); dn != "" {
		meta[MetaDisplayPhoneNumber] = dn
	}

	parseBody(&m, msg, meta, raw)

	if m.Context != nil {
		msg.ReplyToID = string(m.Context.ID)
		setIf(meta, MetaContextFrom, string(m.Context.From))
		setIf(meta, MetaForwarded, trueOnly(m.Context.Forwarded))
		setIf(meta, MetaFrequentlyFwd, trueOnly(m.Context.FrequentlyForwarded))
		if rp := m.Context.ReferredProduct; rp != nil {
			setIf(meta, MetaReferredCatalogID, string(rp.CatalogID))
			setIf(meta, MetaReferredProductID, string(rp.ProductRetailerID))
		}
	}
	if r := m.Referral; r != nil {
		for k, val := range map[string]string{
			"source_url": r.SourceURL, "source_id": string(r.SourceID), "source_type": r.SourceType,
			"headline": r.Headline, "body": r.Body, "media_type": r.MediaType, "image_url": r.ImageURL,
			"video_url": r.VideoURL, "thumbnail_url": r.ThumbnailURL, "ctwa_clid": r.CtwaClid,
		} {
			setIf(meta, MetaReferralPrefix+k, val)
		}
	}
	if len(m.Errors) > 0 {
		e := m.Errors[0]
		setIf(meta, MetaErrorCode, string(e.Code))
		setIf(meta, MetaErrorTitle, joinNonEmpty(": ", e.Title, e.Message))
		setIf(meta, MetaErrorDetails, e.ErrorData.Details)
	}
	if len(meta) > 0 {
		msg.Metadata = meta
	}
	return &sdk.Event{
		Kind:       sdk.EventMessage,
		Platform:   Platform,
		AccountID:  account,
		OccurredAt: msg.Timestamp,
		Message:    msg,
	}
}

// parseBody fills Type, Text and Attachments from the type's object.
func parseBody(m *inMessage, msg *sdk.Message, meta map[string]string, raw json.RawMessage) {
	switch m.Type {
	case "text":
		if m.Text != nil {
			msg.Text = m.Text.Body
		}
	case "image", "audio", "video", "document", "sticker":
		media := map[string]*inMedia{"image": m.Image, "audio": m.Audio, "video": m.Video, "document": m.Document, "sticker": m.Sticker}[m.Type]
		if media == nil {
			break
		}
		typ := m.Type
		if typ == "document" {
			typ = "file" // the SDK's name for documents, shared by all connectors
		}
		msg.Attachments = append(msg.Attachments, sdk.Attachment{
			Type: typ, ExternalID: string(media.ID), MimeType: media.MimeType,
			Caption: media.Caption, Name: media.Filename,
		})
		msg.Text = media.Caption
		setIf(meta, MetaMediaSHA256, media.SHA256)
		setIf(meta, MetaMediaURL, media.URL)
		setIf(meta, MetaVoice, trueOnly(media.Voice))
		setIf(meta, MetaAnimated, trueOnly(media.Animated))
	case "location":
		if l := m.Location; l != nil {
			lat, long := string(l.Latitude), string(l.Longitude)
			a := sdk.Attachment{Type: "location", Name: l.Name, Caption: l.Address}
			if lat != "" && long != "" {
				a.URL = "geo:" + lat + "," + long
			}
			msg.Attachments = append(msg.Attachments, a)
			msg.Text = locationText(l)
			setIf(meta, MetaLatitude, lat)
			setIf(meta, MetaLongitude, long)
			setIf(meta, MetaLocationURL, l.URL)
		}
	case "contacts":
		var lines []string
		for _, c := range m.Contacts {
			name := c.Name.FormattedName
			if name == "" {
				name = joinNonEmpty(" ", c.Name.FirstName, c.Name.LastName)
			}
			a := sdk.Attachment{Type: "contact", Name: name}
			var phones []string
			for _, p := range c.Phones {
				phones = append(phones, p.Phone)
				if a.URL == "" && p.Phone != "" {
					a.URL = "tel:" + strings.Join(strings.Fields(p.Phone), "")
				}
				if a.ExternalID == "" {
					a.ExternalID = string(p.WaID)
				}
			}
			msg.Attachments = append(msg.Attachments, a)
			lines = append(lines, "Contact: "+joinNonEmpty(", ", append([]string{name}, phones...)...))
		}
		msg.Text = strings.Join(lines, "\n")
	case "reaction":
		// No Text: a reaction is not something to answer.
		if r := m.Reaction; r != nil {
			meta[MetaReactionEmoji] = r.Emoji // empty means the reaction was removed
			setIf(meta, MetaReactionMessageID, string(r.MessageID))
		}
	case "interactive":
		if in := m.Interactive; in != nil {
			setIf(meta, MetaInteractiveType, in.Type)
			switch {
			case in.ButtonReply != nil:
				msg.Text = in.ButtonReply.Title
				setIf(meta, MetaReplyID, in.ButtonReply.ID)
			case in.ListReply != nil:
				msg.Text = in.ListReply.Title
				setIf(meta, MetaReplyID, in.ListReply.ID)
				setIf(meta, MetaReplyDescription, in.ListReply.Description)
			case in.NfmReply != nil:
				msg.Text = in.NfmReply.Body
				setIf(meta, MetaFlowName, in.NfmReply.Name)
				setIf(meta, MetaFlowResponseJSON, truncate(in.NfmReply.ResponseJSON, maxRaw))
			}
		}
	case "button":
		if b := m.Button; b != nil {
			msg.Text = b.Text
			setIf(meta, MetaButtonPayload, b.Payload)
		}
	case "order":
		if o := m.Order; o != nil {
			msg.Text = o.Text
			setIf(meta, MetaOrderCatalogID, string(o.CatalogID))
			if len(o.ProductItems) > 0 {
				if b, err := json.Marshal(o.ProductItems); err == nil {
					meta[MetaOrderItems] = truncate(string(b), maxRaw)
				}
			}
		}
	case "system":
		if s := m.System; s != nil {
			msg.Text = s.Body
			setIf(meta, MetaSystemType, s.Type)
			setIf(meta, MetaSystemNewWaID, string(s.NewWaID))
		}
	case "unsupported":
	case "":
		msg.Type = "unsupported"
	default:
		// A type this connector does not know yet: keep it under its own
		// name with its raw object, so nothing is lost until it is parsed.
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			if b, ok := obj[m.Type]; ok {
				meta[MetaRaw] = truncate(string(b), maxRaw)
			}
		}
	}
}

func (ps parser) status(raw json.RawMessage, account string) *sdk.Event {
	var s inStatus
	_ = json.Unmarshal(raw, &s) // type errors keep what decoded
	var st sdk.DeliveryStatus
	switch s.Status {
	case "sent":
		st = sdk.StatusSent
	case "delivered":
		st = sdk.StatusDelivered
	case "read":
		st = sdk.StatusRead
	case "failed":
		st = sdk.StatusFailed
	default:
		// Statuses outside the SDK's vocabulary ("deleted", "warning",
		// ...) and statuses without a wamid cannot update any message.
		return nil
	}
	if s.ID == "" {
		return nil
	}
	up := &sdk.StatusUpdate{
		MessageExternalID: string(s.ID),
		Status:            st,
		RecipientID:       string(s.RecipientID),
		Timestamp:         ps.timestamp(s.Timestamp),
	}
	if st == sdk.StatusFailed {
		up.Error = statusError(s.Errors)
	}
	return &sdk.Event{
		Kind:       sdk.EventStatus,
		Platform:   Platform,
		AccountID:  account,
		OccurredAt: up.Timestamp,
		Status:     up,
	}
}

// timestamp reads the platform's unix seconds, falling back to the time the
// delivery arrived.
func (ps parser) timestamp(s flexString) time.Time {
	if n, err := strconv.ParseInt(strings.TrimSpace(string(s)), 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC()
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64); err == nil && f > 0 && f < 1e12 {
		return time.Unix(int64(f), 0).UTC()
	}
	return ps.received
}

func profileName(v *changeValue, waID string) string {
	for _, c := range v.Contacts {
		if string(c.WaID) == waID {
			return c.Profile.Name
		}
	}
	// One contact without a wa_id can only be the sender.
	if len(v.Contacts) == 1 && v.Contacts[0].WaID == "" {
		return v.Contacts[0].Profile.Name
	}
	return ""
}

// phone renders a wa_id as E.164 when it is one: wa_ids are the number's
// digits with the country code.
func phone(waID string) string {
	if waID == "" || len(waID) > 15 {
		return ""
	}
	for _, r := range waID {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return "+" + waID
}

func locationText(l *inLocation) string {
	place := joinNonEmpty(", ", l.Name, l.Address)
	coords := ""
	if l.Latitude != "" && l.Longitude != "" {
		coords = string(l.Latitude) + ", " + string(l.Longitude)
	}
	switch {
	case place != "" && coords != "":
		return "Location: " + place + " (" + coords + ")"
	case place != "":
		return "Location: " + place
	case coords != "":
		return "Location: " + coords
	}
	return ""
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func trueOnly(f flexString) string {
	if f == "true" {
		return "true"
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Do not leave half a UTF-8 sequence at the cut.
	return strings.ToValidUTF8(s, "")
}
