package inbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	entmedia "github.com/neksio/neksio/ent/media"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// Files in messages go through Neksio's media store (core/media): a
// reply's attachments are uploaded there first (uploadMedia) and handed
// to the platform at signed URLs; a customer's are fetched from the
// platform by a media.fetch job, because platforms give out only a media
// id (WhatsApp) or a URL that expires (Meta), and then open at a signed
// Neksio URL.

// DefaultMediaFetchMaxBytes bounds a customer's file fetched from a
// platform (NEKSIO_MEDIA_FETCH_MAX_BYTES): WhatsApp's largest, a 100 MB
// document.
const DefaultMediaFetchMaxBytes int64 = 100 << 20

// settingAllowPrivateMedia is the connectors' app setting that lets them
// hand platforms (in practice: emulators) URLs on private hosts.
const settingAllowPrivateMedia = "allow_private_media_urls"

func (s *Service) fetchMaxBytes() int64 {
	if s.MediaFetchMaxBytes > 0 {
		return s.MediaFetchMaxBytes
	}
	return DefaultMediaFetchMaxBytes
}

// replyAttachments checks the files a reply carries against what the
// platform takes, before anything is stored, and describes them.
func (s *Service) replyAttachments(ctx context.Context, tx *store.Tx, conv *ent.Conversation, ids []pulid.ID) ([]schematype.Attachment, error) {
	ch := conv.Edges.Channel
	if conv.Kind != conversation.KindDirectMessage {
		return nil, apperr.Invalid("attachments", "attachments go in direct conversations; comment and review replies are text")
	}
	if s.Media == nil {
		return nil, apperr.Invalid("attachments", "this server has no media store")
	}
	var rules *sdk.PlatformRules
	if s.Rules != nil {
		rules = s.Rules.PlatformRules(ch.Connector, ch.Platform)
	}
	if rules == nil || len(rules.Attachments) == 0 {
		return nil, apperr.Invalid("attachments", "replies on %s carry no attachments", ch.Platform)
	}
	seen := map[pulid.ID]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, apperr.Invalid("attachments", "%s is given twice", id)
		}
		seen[id] = true
	}
	if rules.MaxAttachments > 0 && len(ids) > rules.MaxAttachments {
		return nil, apperr.Invalid("attachments", "a reply on %s carries at most %d attachment(s): send the others in further replies", ch.Platform, rules.MaxAttachments)
	}
	if !s.Media.PublicHost() && s.Channels != nil && s.Channels.AppFor(ch).Settings[settingAllowPrivateMedia] != "true" {
		return nil, apperr.Invalid("attachments", "%s fetches attachments from NEKSIO_PUBLIC_URL, which is not a public address it can reach (%q): set it to this server's public URL",
			ch.Platform, s.Media.PublicURL)
	}
	rows, err := tx.Ent.Media.Query().Where(entmedia.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("inbox: loading attachments: %w", err)
	}
	byID := map[pulid.ID]*ent.Media{}
	for _, m := range rows {
		byID[m.ID] = m
	}
	out := make([]schematype.Attachment, 0, len(ids))
	for i, id := range ids {
		m := byID[id]
		if m == nil {
			// Another workspace's is hidden by the tenant policy.
			return nil, apperr.NotFound("media " + string(id))
		}
		field := fmt.Sprintf("attachments[%d]", i)
		kind := strings.ToLower(string(m.Kind))
		rule, ok := sdk.MediaRuleFor(rules.Attachments, kind)
		if !ok {
			return nil, apperr.Invalid(field, "%s takes %s attachments, not %s (%s)", ch.Platform, kindsOf(rules.Attachments), kind, m.MimeType)
		}
		if !rule.Accepts(m.MimeType) {
			return nil, apperr.Invalid(field, "%s takes %s as %s, not %s", ch.Platform, kind, strings.Join(rule.MimeTypes, ", "), m.MimeType)
		}
		if rule.MaxBytes > 0 && m.Size > rule.MaxBytes {
			return nil, apperr.Invalid(field, "%s takes %s of at most %s; this one is %s", ch.Platform, kind, byteSize(rule.MaxBytes), byteSize(m.Size))
		}
		out = append(out, schematype.Attachment{Type: kind, MimeType: m.MimeType, Name: m.Filename, MediaID: string(m.ID), Size: m.Size})
	}
	return out, nil
}

func kindsOf(rules []sdk.MediaRule) string {
	var k []string
	for _, r := range rules {
		k = append(k, r.Kind)
	}
	return strings.Join(k, ", ")
}

// byteSize writes n bytes the way limits are stated: 5 MB, 500 KB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// sendAttachments hands a reply's files to the connector at signed URLs,
// fresh at each attempt.
func (s *Service) sendAttachments(msg *ent.Message, req *sdk.SendRequest) *sdk.Error {
	for _, a := range msg.Attachments {
		if a.MediaID == "" {
			continue
		}
		if s.Media == nil {
			return &sdk.Error{Class: sdk.ClassPermanent, Message: "the reply has attachments and this server has no media store"}
		}
		req.Attachments = append(req.Attachments, sdk.Attachment{Type: a.Type, URL: s.Media.URL(pulid.ID(a.MediaID)),
			MimeType: a.MimeType, Name: a.Name})
	}
	return nil
}

// fileTypes are the attachment types that carry a file to fetch.
var fileTypes = []string{"image", "video", "audio", "file", "document", "sticker"}

// fetchable reports whether a customer's attachment is a file the
// platform hands out by id or by URL.
func fetchable(a sdk.Attachment) bool {
	return slices.Contains(fileTypes, strings.ToLower(a.Type)) &&
		(a.ExternalID != "" || strings.HasPrefix(a.URL, "https://") || strings.HasPrefix(a.URL, "http://"))
}

// markFetches marks the customer's files to fetch into the media store,
// when the channel's connector can download them.
func (s *Service) markFetches(ctx context.Context, ch *ent.Channel, atts []schematype.Attachment, in []sdk.Attachment) bool {
	if s.Media == nil || !slices.ContainsFunc(in, fetchable) || !s.hasCapability(ctx, ch.Connector, sdk.CapMediaFetch) {
		return false
	}
	for i := range atts {
		if fetchable(in[i]) {
			atts[i].Status = schematype.AttachmentPending
		}
	}
	return true
}

// queueFetches queues a media.fetch job per attachment marked pending.
func queueFetches(ctx context.Context, tx *store.Tx, msg *ent.Message) error {
	for i, a := range msg.Attachments {
		if a.Status != schematype.AttachmentPending {
			continue
		}
		if err := tx.InsertJob(ctx, jobargs.MediaFetch{WorkspaceID: string(msg.WorkspaceID), MessageID: string(msg.ID), Index: i}, nil); err != nil {
			return fmt.Errorf("inbox: queueing the attachment's fetch: %w", err)
		}
	}
	return nil
}

// FetchAttachment downloads attachment index of an inbound message
// through its channel's connector (capped at the fetch bound), stores it
// in the media store (which sniffs its type) and records it on the
// message. A failure the platform may get over returns an
// *apperr.Transient (connector.Classify, with the platform's Retry-After)
// and leaves the attachment PENDING with the error; a final one marks it
// FAILED. ctx carries the workspace's system viewer.
func (s *Service) FetchAttachment(ctx context.Context, messageID pulid.ID, index int) error {
	return s.fetchAttachment(ctx, messageID, index, false)
}

// FetchAttachmentLastAttempt is FetchAttachment when no retry follows (the
// job's last attempt): a failure that could be retried marks the
// attachment FAILED, with its error, instead.
func (s *Service) FetchAttachmentLastAttempt(ctx context.Context, messageID pulid.ID, index int) error {
	return s.fetchAttachment(ctx, messageID, index, true)
}

func (s *Service) fetchAttachment(ctx context.Context, messageID pulid.ID, index int, final bool) error {
	msg, err := s.Store.Ent.Message.Get(ctx, messageID)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return apperr.Retry(fmt.Errorf("inbox: loading message: %w", err), 0)
	}
	if index < 0 || index >= len(msg.Attachments) || msg.Attachments[index].Status != schematype.AttachmentPending {
		return nil // fetched, or given up, already
	}
	a := msg.Attachments[index]
	ch, err := s.Store.Ent.Channel.Get(ctx, msg.ChannelID)
	if err != nil {
		return apperr.Retry(fmt.Errorf("inbox: loading channel: %w", err), 0)
	}
	fail := func(se *sdk.Error) error { return s.fetchFailed(ctx, msg.ID, index, se, final) }
	if s.Media == nil {
		return fail(&sdk.Error{Class: sdk.ClassPermanent, Message: "this server has no media store"})
	}
	if ch.Status == entchannel.StatusDisconnected {
		return fail(&sdk.Error{Class: sdk.ClassPermanent, Message: "the channel is disconnected"})
	}
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return fail(&sdk.Error{Class: sdk.ClassRetryable, Message: "connector " + ch.Connector + " unavailable"})
	}
	fetcher, ok := conn.(sdk.MediaFetcher)
	if !ok {
		return fail(&sdk.Error{Class: sdk.ClassPermanent, Message: "connector " + ch.Connector + " cannot download attachments"})
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return fail(&sdk.Error{Class: sdk.ClassPermanent, Message: "the channel has no credentials to download with (reconnect it)"})
	}
	max := s.fetchMaxBytes()
	content, err := fetcher.FetchMedia(ctx, &sdk.FetchMediaRequest{App: s.Channels.AppFor(ch), Credentials: withPlatform(creds, ch.Platform),
		AccountID: ch.ExternalID, Platform: ch.Platform, MaxBytes: max,
		Attachment: sdk.Attachment{Type: a.Type, URL: a.URL, MimeType: a.MimeType, Caption: a.Caption, ExternalID: a.ExternalID, Name: a.Name}})
	if err != nil {
		return fail(asSDKError(err))
	}
	defer content.Body.Close()
	m, err := s.Media.Store(ctx, media.Upload{Filename: cmp.Or(content.Name, a.Name, a.Type), Content: content.Body,
		Source: "inbound", MaxBytes: max})
	if err != nil {
		var ae *apperr.Error
		var se *sdk.Error
		switch {
		case errors.As(err, &se):
			// The download failed while it streamed.
			return fail(se)
		case errors.As(err, &ae) && ae.Code == apperr.CodeBadUserInput:
			// Too large, or a type Neksio does not keep.
			return fail(&sdk.Error{Class: sdk.ClassPermanent, Code: "refused", Message: ae.Message})
		}
		return fail(&sdk.Error{Class: sdk.ClassRetryable, Message: "storing the file: " + err.Error()})
	}
	return s.updateAttachment(ctx, msg.ID, index, func(a *schematype.Attachment) {
		a.Status, a.Error = schematype.AttachmentStored, ""
		a.MediaID, a.MimeType, a.Size = string(m.ID), m.MimeType, m.Size
		if a.Name == "" && content.Name != "" {
			a.Name = content.Name
		}
	})
}

func asSDKError(err error) *sdk.Error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return se
	}
	return &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
}

// fetchFailed records a failed fetch: the error stays visible on the
// attachment; it is retried while the failure may pass, else (and on the
// last run) the attachment is FAILED.
func (s *Service) fetchFailed(ctx context.Context, msgID pulid.ID, index int, se *sdk.Error, final bool) error {
	msg := se.Message
	if se.Code != "" {
		msg = se.Code + ": " + msg
	}
	retry := se.Class == sdk.ClassRetryable && !final
	err := s.updateAttachment(ctx, msgID, index, func(a *schematype.Attachment) {
		a.Error = msg
		if !retry {
			a.Status = schematype.AttachmentFailed
		}
	})
	if err != nil {
		return apperr.Retry(err, 0)
	}
	if retry {
		return connector.Classify(se)
	}
	return nil
}

// updateAttachment changes attachment index of a message, one change at a
// time per message (its attachments are fetched by separate jobs).
func (s *Service) updateAttachment(ctx context.Context, msgID pulid.ID, index int, change func(*schematype.Attachment)) error {
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "attachments:"+string(msgID)); err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		msg, err := tx.Ent.Message.Query().Where(message.ID(msgID)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inbox: loading message: %w", err)
		}
		if index >= len(msg.Attachments) {
			return nil
		}
		atts := slices.Clone(msg.Attachments)
		change(&atts[index])
		if err := tx.Ent.Message.UpdateOneID(msgID).SetAttachments(atts).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: recording the attachment: %w", err)
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		return nil
	})
}
