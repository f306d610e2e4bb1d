package inbox

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/pendingstatus"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/plugins/sdk"
)

// InboundHook runs, in the ingesting transaction, for every new inbound
// message; the agent queues its job through it, and sentiment analysis
// its job or the conversation's roll-up.
type InboundHook func(ctx context.Context, tx *store.Tx, ch *ent.Channel, conv *ent.Conversation, msg *ent.Message) error

// InboundCreateHook runs, in the ingesting transaction, before a new
// inbound message is stored: it may set fields on create, whose mutation
// holds what the message brings (its text, rating, time).
type InboundCreateHook func(ctx context.Context, tx *store.Tx, ch *ent.Channel, conv *ent.Conversation, create *ent.MessageCreate) error

// InboundUpdateHook adds to the update of a new inbound message's
// conversation, which runs once the message is stored, in the ingesting
// transaction, while that transaction holds the conversation's row lock
// (taken by the lookup on PostgreSQL; SQLite runs one transaction at a
// time): the update's statement sees every message committed before it,
// the new one included, and no other transaction can commit one to the
// conversation until this one does. It reports whether it added to u
// (a new conversation is updated only then). Sentiment rolls the
// conversation's scores up through it.
type InboundUpdateHook func(ctx context.Context, ch *ent.Channel, conv *ent.Conversation, msg *ent.Message, u *ent.ConversationUpdate) bool

// IngestResult counts what a delivery changed.
type IngestResult struct {
	Created, Updated, Duplicates, Statuses, Ignored int
}

// Add counts o into r.
func (r *IngestResult) Add(o IngestResult) {
	r.Created += o.Created
	r.Updated += o.Updated
	r.Duplicates += o.Duplicates
	r.Statuses += o.Statuses
	r.Ignored += o.Ignored
}

// Ingest stores a connector's events for one channel inside tx. ctx must
// carry a viewer of the channel's workspace. Repeats are no-ops: messages
// are unique per channel and external id.
func (s *Service) Ingest(ctx context.Context, tx *store.Tx, ch *ent.Channel, events []*sdk.Event) (IngestResult, error) {
	var res IngestResult
	syncQueued := false
	for _, ev := range events {
		var err error
		switch ev.Kind {
		case sdk.EventMessage:
			if ev.Message == nil {
				res.Ignored++
				continue
			}
			err = s.ingestMessage(ctx, tx, ch, ev, &res)
		case sdk.EventStatus:
			if ev.Status == nil {
				res.Ignored++
				continue
			}
			err = s.ingestStatus(ctx, tx, ch, ev.Status, &res)
		case sdk.EventAccount:
			err = s.ingestAccount(ctx, tx, ch, ev.Account, &res)
		case sdk.EventPublish:
			err = s.ingestPublish(ctx, tx, ch, ev, &res)
		case sdk.EventNotify:
			if syncQueued {
				// One pass covers them all (and River refuses the same
				// unique job twice in one insert).
				res.Ignored++
				continue
			}
			err = s.ingestNotify(ctx, tx, ch, ev.Notify, &res)
			syncQueued = true
		default:
			res.Ignored++
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func kindOf(t sdk.ThreadKind) conversation.Kind {
	switch t {
	case sdk.ThreadComment:
		return conversation.KindCommentThread
	case sdk.ThreadReview:
		return conversation.KindReview
	}
	return conversation.KindDirectMessage
}

func (s *Service) ingestMessage(ctx context.Context, tx *store.Tx, ch *ent.Channel, ev *sdk.Event, res *IngestResult) error {
	m := ev.Message
	if m.ExternalID == "" || m.ThreadID == "" {
		res.Ignored++
		return nil
	}
	if m.Direction == sdk.Outbound {
		// An echo of the host's own send may arrive before the send has
		// recorded its platform id (TikTok's im_send_msg, a synced own
		// comment): taken before looking, as Deliver takes it before
		// recording, so one of the two always sees the other (see
		// Deliver's merge).
		if err := lockExternalID(ctx, tx, ch.ID, m.ExternalID); err != nil {
			return err
		}
	}
	inbound := m.Direction != sdk.Outbound
	// The business's own comments have no contact; in a DM, an echo's
	// contact is the person it was sent to.
	withContact := m.Contact.ExternalID != "" && (inbound || m.ThreadKind == sdk.ThreadDirect)
	known, err := s.lookupThread(ctx, tx, ch, m, withContact)
	if err != nil {
		return err
	}
	if known.message != nil {
		return s.applyChange(ctx, tx, known.message, m, res)
	}
	if m.Action == sdk.ActionDeleted && (m.ThreadKind == sdk.ThreadReview || m.Text == "" && len(m.Attachments) == 0) {
		// A review deleted before it was ever seen, or the removal of
		// something never stored (TikTok's comment.update names a deleted
		// comment and nothing more): nothing to mark, and an empty
		// conversation would only be noise.
		res.Ignored++
		return nil
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = s.now()
	}
	var ct *ent.Contact
	if withContact {
		if ct, err = s.upsertContact(ctx, tx, ch, m.Contact, known, inbound); err != nil {
			return err
		}
	}
	conv, created, update, err := s.upsertConversation(ctx, tx, ch, m, known.conv, ct, ts, inbound)
	if err != nil {
		return err
	}
	if err := s.queueLookups(ctx, tx, ch, m, ct, conv); err != nil {
		return err
	}
	create := tx.Ent.Message.Create().
		SetWorkspaceID(ch.WorkspaceID).
		SetConversationID(conv.ID).
		SetChannelID(ch.ID).
		SetExternalID(m.ExternalID).
		SetType(cmp.Or(m.Type, "text")).
		SetText(m.Text).
		SetSentAt(ts).
		SetParentExternalID(m.ParentID).
		SetReplyToExternalID(m.ReplyToID)
	if inbound {
		create.SetDirection(message.DirectionInbound).SetAuthorKind(message.AuthorKindContact).
			SetDeliveryStatus(message.DeliveryStatusReceived)
	} else {
		// Echoes of what the business sent elsewhere (its app, another
		// tool) and its own comments: stored, never answered.
		create.SetDirection(message.DirectionOutbound).SetAuthorKind(message.AuthorKindAgent).
			SetDeliveryStatus(message.DeliveryStatusSent)
	}
	if ct != nil {
		create.SetContactID(ct.ID)
	}
	fetch := false
	if len(m.Attachments) > 0 {
		atts := attachments(m.Attachments)
		fetch = inbound && m.Action != sdk.ActionDeleted && s.markFetches(ctx, ch, atts, m.Attachments)
		create.SetAttachments(atts)
	}
	if r := rating(m.Rating); r != nil {
		create.SetRating(*r)
	}
	if len(m.Metadata) > 0 {
		create.SetMetadata(copyMeta(m.Metadata))
	}
	switch {
	case m.Action == sdk.ActionDeleted:
		create.SetDeletedAt(ts)
	case m.Action == sdk.ActionEdited && inbound:
		// The person changed it before we saw it. The business's own
		// messages are not marked: a platform that replaces a reply in
		// place (Google) reports every reply as an edit, having no way to
		// tell, and this is the first version seen.
		create.SetEditedAt(ts)
	}
	runHooks := inbound && m.Action != sdk.ActionDeleted
	if runHooks {
		for _, hook := range s.OnInboundCreate {
			if err := hook(ctx, tx, ch, conv, create); err != nil {
				return err
			}
		}
	}
	msg, err := create.Save(ctx)
	if err != nil {
		return fmt.Errorf("inbox: storing message: %w", err)
	}
	if runHooks {
		for _, hook := range s.OnInboundUpdate {
			if hook(ctx, ch, conv, msg, update.u) {
				update.added = true
			}
		}
	}
	if err := update.exec(ctx); err != nil {
		return err
	}
	if fetch {
		if err := queueFetches(ctx, tx, msg); err != nil {
			return err
		}
	}
	res.Created++
	ws := string(ch.WorkspaceID)
	if created {
		tx.Emit(event.Event{Type: event.ConversationCreated, WorkspaceID: ws, ObjectID: string(conv.ID), ConversationID: string(conv.ID), ChannelID: string(ch.ID)})
	} else {
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: ws, ObjectID: string(conv.ID), ConversationID: string(conv.ID), ChannelID: string(ch.ID)})
	}
	tx.Emit(event.Event{Type: event.MessageAdded, WorkspaceID: ws, ObjectID: string(msg.ID), ConversationID: string(conv.ID), ChannelID: string(ch.ID)})
	if runHooks {
		for _, hook := range s.OnInbound {
			if err := hook(ctx, tx, ch, conv, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyChange handles a repeat, an edit or a removal of a known message.
// Edits keep the previous text and rating (a review's stars change too);
// removals keep the text and mark the time. An inbound edit that changed
// something updates its conversation (a review's current rating; a
// resolved conversation reopens, as when the customer writes again) and
// runs the OnEdited hooks.
func (s *Service) applyChange(ctx context.Context, tx *store.Tx, msg *ent.Message, m *sdk.Message, res *IngestResult) error {
	ts := m.Timestamp
	if ts.IsZero() {
		ts = s.now()
	}
	next := rating(m.Rating)
	ratingChanged := next != nil && (msg.Rating == nil || *msg.Rating != *next)
	switch {
	case m.Action == sdk.ActionEdited && (m.Text != msg.Text || ratingChanged):
		meta := copyMeta(msg.Metadata)
		n, _ := strconv.Atoi(meta["edit_count"])
		n++
		meta["edit_count"] = strconv.Itoa(n)
		meta["previous_text_"+strconv.Itoa(n)] = msg.Text
		if msg.Rating != nil {
			meta["previous_rating_"+strconv.Itoa(n)] = strconv.Itoa(*msg.Rating)
		}
		u := tx.Ent.Message.UpdateOneID(msg.ID).SetText(m.Text).SetEditedAt(ts).SetMetadata(meta)
		if next != nil {
			u.SetRating(*next)
		}
		edited, err := u.Save(ctx)
		if err != nil {
			return fmt.Errorf("inbox: editing message: %w", err)
		}
		if msg.Direction == message.DirectionInbound {
			if err := s.inboundEdited(ctx, tx, edited, next); err != nil {
				return err
			}
		}
	case m.Action == sdk.ActionDeleted && msg.DeletedAt == nil:
		if err := tx.Ent.Message.UpdateOneID(msg.ID).SetDeletedAt(ts).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: deleting message: %w", err)
		}
	case m.Action != sdk.ActionDeleted && hiddenChanged(msg.Metadata, m.Metadata):
		// A moderator hid the comment (or showed it again): the same
		// comment, seen again with another visibility.
		meta := copyMeta(msg.Metadata)
		if m.Metadata[MetaHidden] == "true" {
			meta[MetaHidden] = "true"
		} else {
			delete(meta, MetaHidden)
		}
		if st, ok := m.Metadata["status"]; ok {
			meta["status"] = st
		}
		if err := tx.Ent.Message.UpdateOneID(msg.ID).SetMetadata(meta).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: updating visibility: %w", err)
		}
	default:
		res.Duplicates++
		return nil
	}
	res.Updated++
	tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
		ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
	return nil
}

// MetaHidden is the metadata flag of a message the platform hides from
// the public (a comment hidden by a moderator): "true" when hidden.
const MetaHidden = "hidden"

// hiddenChanged reports whether a repeat of a message says it is hidden
// when it was not, or visible when it was hidden. A repeat that does not
// speak of visibility (no hidden flag, no status) changes nothing.
func hiddenChanged(stored, seen map[string]string) bool {
	_, flag := seen[MetaHidden]
	_, status := seen["status"]
	if !flag && !status {
		return false
	}
	return (stored[MetaHidden] == "true") != (seen[MetaHidden] == "true")
}

// inboundEdited follows a customer's edit on the conversation and runs
// the OnEdited hooks (sentiment scores the new text).
func (s *Service) inboundEdited(ctx context.Context, tx *store.Tx, msg *ent.Message, next *int) error {
	conv, err := tx.Ent.Conversation.Query().Where(conversation.ID(msg.ConversationID)).WithChannel().Only(ctx)
	if err != nil {
		return fmt.Errorf("inbox: loading the edited message's conversation: %w", err)
	}
	u := tx.Ent.Conversation.UpdateOneID(conv.ID)
	changed := false
	if next != nil && (conv.Rating == nil || *conv.Rating != *next) {
		u.SetRating(*next)
		changed = true
	}
	if conv.Status == conversation.StatusResolved {
		u.SetStatus(conversation.StatusOpen)
		changed = true
	}
	if changed {
		if conv, err = u.Save(ctx); err != nil {
			return fmt.Errorf("inbox: updating the edited message's conversation: %w", err)
		}
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(conv.WorkspaceID), ObjectID: string(conv.ID),
			ConversationID: string(conv.ID), ChannelID: string(conv.ChannelID)})
	}
	ch := conv.Edges.Channel
	for _, hook := range s.OnEdited {
		if err := hook(ctx, tx, ch, conv, msg); err != nil {
			return err
		}
	}
	return nil
}

// rating is a review's stars when they are 1-5, else nil.
func rating(stars int) *int {
	if stars < 1 || stars > 5 {
		return nil
	}
	return &stars
}

// upsertContact returns the message's contact, creating it or updating
// its profile. known.contact, when the lookup found it, is read: only the
// fields the lookup selects are set (see lookupThread).
func (s *Service) upsertContact(ctx context.Context, tx *store.Tx, ch *ent.Channel, c sdk.Contact, known threadLookup, inbound bool) (*ent.Contact, error) {
	ct := known.contact
	if !known.contactKnown {
		var err error
		ct, err = tx.Ent.Contact.Query().Where(contact.ChannelID(ch.ID), contact.ExternalID(c.ExternalID)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, fmt.Errorf("inbox: looking up contact: %w", err)
		}
	}
	if ct == nil {
		ct, err := tx.Ent.Contact.Create().
			SetWorkspaceID(ch.WorkspaceID).
			SetChannelID(ch.ID).
			SetExternalID(c.ExternalID).
			SetName(c.Name).
			SetUsername(c.Username).
			SetPhone(c.Phone).
			SetAvatarURL(c.AvatarURL).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("inbox: storing contact: %w", err)
		}
		return ct, nil
	}
	// Profiles change; only what the person sends is current.
	if !inbound {
		return ct, nil
	}
	// An update without reading the row back (UpdateOne would): what
	// changed is known here.
	u := tx.Ent.Contact.Update().Where(contact.ID(ct.ID))
	changed := false
	if c.Name != "" && c.Name != ct.Name {
		u.SetName(c.Name)
		ct.Name = c.Name
		changed = true
	}
	if c.Username != "" && c.Username != ct.Username {
		u.SetUsername(c.Username)
		ct.Username = c.Username
		changed = true
	}
	if c.AvatarURL != "" && c.AvatarURL != ct.AvatarURL {
		u.SetAvatarURL(c.AvatarURL)
		ct.AvatarURL = c.AvatarURL
		changed = true
	}
	if !changed {
		return ct, nil
	}
	if err := u.Exec(ctx); err != nil {
		return nil, fmt.Errorf("inbox: updating contact: %w", err)
	}
	return ct, nil
}

// convUpdate is the update of a message's conversation, run after the
// message is stored so that the OnInboundUpdate hooks can add to it: one
// statement for what the message changed and what the hooks derive from it.
type convUpdate struct {
	u *ent.ConversationUpdate
	// needed: the conversation existed (its fields and updated_at change
	// with every message), or a hook added to u.
	needed, added bool
}

func (c convUpdate) exec(ctx context.Context) error {
	if !c.needed && !c.added {
		return nil
	}
	if err := c.u.Exec(ctx); err != nil {
		return fmt.Errorf("inbox: updating conversation: %w", err)
	}
	return nil
}

// upsertConversation creates the message's conversation, or prepares its
// update (run by the caller once the message is stored: see convUpdate).
func (s *Service) upsertConversation(ctx context.Context, tx *store.Tx, ch *ent.Channel, m *sdk.Message, conv *ent.Conversation, ct *ent.Contact, ts time.Time, inbound bool) (*ent.Conversation, bool, convUpdate, error) {
	kind := kindOf(m.ThreadKind)
	if conv == nil {
		create := tx.Ent.Conversation.Create().
			SetWorkspaceID(ch.WorkspaceID).
			SetChannelID(ch.ID).
			SetKind(kind).
			SetThreadID(m.ThreadID).
			SetSubject(m.ThreadSubject).
			SetURL(m.ThreadURL).
			SetLastMessageAt(ts)
		if inbound {
			create.SetLastInboundAt(ts)
			if r := rating(m.Rating); r != nil {
				create.SetRating(*r)
			}
		}
		// A comment thread belongs to a post, not to one person.
		if ct != nil && kind != conversation.KindCommentThread {
			create.SetContactID(ct.ID)
		}
		conv, err := create.Save(ctx)
		if err != nil {
			return nil, false, convUpdate{}, fmt.Errorf("inbox: storing conversation: %w", err)
		}
		// Created in this transaction: no other sees the row, or can
		// add a message to it, before this one commits.
		return conv, true, convUpdate{u: tx.Ent.Conversation.Update().Where(conversation.ID(conv.ID))}, nil
	}
	// Update, not UpdateOne: UpdateOne (Exec too) reads the row back, and
	// every field it would return is known here.
	u := tx.Ent.Conversation.Update().Where(conversation.ID(conv.ID))
	if ts.After(conv.LastMessageAt) {
		u.SetLastMessageAt(ts)
		conv.LastMessageAt = ts
	}
	if inbound {
		if conv.LastInboundAt == nil || ts.After(*conv.LastInboundAt) {
			u.SetLastInboundAt(ts)
			conv.LastInboundAt = &ts
		}
		// A customer writing again reopens a resolved conversation.
		if conv.Status == conversation.StatusResolved {
			u.SetStatus(conversation.StatusOpen)
			conv.Status = conversation.StatusOpen
		}
		if r := rating(m.Rating); r != nil {
			u.SetRating(*r)
			conv.Rating = r
		}
	}
	if m.ThreadSubject != "" && conv.Subject == "" {
		u.SetSubject(m.ThreadSubject)
		conv.Subject = m.ThreadSubject
	}
	if m.ThreadURL != "" && conv.URL == "" {
		u.SetURL(m.ThreadURL)
		conv.URL = m.ThreadURL
	}
	return conv, false, convUpdate{u: u, needed: true}, nil
}

// PendingStatusTTL bounds how long a status waits for its message.
const PendingStatusTTL = 7 * 24 * time.Hour

// statusRank orders delivery states so a late "delivered" never overwrites
// "read" (platforms may deliver statuses out of order, or skip one).
func statusRank(s message.DeliveryStatus) int {
	switch s {
	case message.DeliveryStatusPending:
		return 0
	case message.DeliveryStatusSent:
		return 1
	case message.DeliveryStatusDelivered:
		return 2
	case message.DeliveryStatusRead:
		return 3
	case message.DeliveryStatusFailed:
		return 4
	}
	return -1
}

func (s *Service) ingestStatus(ctx context.Context, tx *store.Tx, ch *ent.Channel, st *sdk.StatusUpdate, res *IngestResult) error {
	res.Statuses++
	if st.MessageExternalID == "" {
		res.Ignored++ // e.g. Messenger read watermarks: nothing to attach to
		return nil
	}
	next := message.DeliveryStatus(strings.ToUpper(string(st.Status)))
	if message.DeliveryStatusValidator(next) != nil {
		res.Ignored++
		return nil
	}
	var code, text string
	if st.Error != nil {
		code = string(st.Error.Class)
		if st.Error.Code != "" {
			code += ":" + st.Error.Code
		}
		text = st.Error.Message
	}
	// Taken before looking: a send recording this id either committed
	// already (and is seen) or waits, then finds the pending status.
	if err := lockExternalID(ctx, tx, ch.ID, st.MessageExternalID); err != nil {
		return err
	}
	msg, err := tx.Ent.Message.Query().
		Where(message.ChannelID(ch.ID), message.ExternalID(st.MessageExternalID)).Only(ctx)
	if ent.IsNotFound(err) {
		// The status may have overtaken the send call that will record
		// this id: keep it until then (see applyPendingStatuses).
		res.Ignored++
		// Statuses of messages sent by other tools never find theirs: keep
		// a week at most.
		if _, err := tx.Ent.PendingStatus.Delete().Where(pendingstatus.ChannelID(ch.ID),
			pendingstatus.CreatedAtLT(s.now().Add(-PendingStatusTTL))).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: pruning pending statuses: %w", err)
		}
		return tx.Ent.PendingStatus.Create().
			SetWorkspaceID(ch.WorkspaceID).
			SetChannelID(ch.ID).
			SetExternalID(st.MessageExternalID).
			SetStatus(string(next)).
			SetErrorCode(code).
			SetErrorMessage(text).
			Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("inbox: looking up message for status: %w", err)
	}
	changed, err := s.applyStatus(ctx, tx, msg, next, code, text)
	if !changed && err == nil {
		res.Duplicates++
	}
	return err
}

// applyStatus moves msg to status next when that is a step forward, and
// hands the conversation to a human when the platform says it failed.
func (s *Service) applyStatus(ctx context.Context, tx *store.Tx, msg *ent.Message, next message.DeliveryStatus, code, text string) (bool, error) {
	if statusRank(next) <= statusRank(msg.DeliveryStatus) {
		return false, nil
	}
	u := tx.Ent.Message.UpdateOneID(msg.ID).SetDeliveryStatus(next)
	if code != "" || text != "" {
		u.SetErrorCode(code).SetErrorMessage(text)
	}
	if err := u.Exec(ctx); err != nil {
		return false, fmt.Errorf("inbox: updating status: %w", err)
	}
	tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
		ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
	if next == message.DeliveryStatusFailed {
		reason := "delivery failed"
		if text != "" {
			reason = "delivery failed: " + code + ": " + text
		}
		return true, s.handOffReply(ctx, tx, msg, reason)
	}
	return true, nil
}

// lockExternalID serialises, per channel and platform id, recording a
// sent message's id with parking a status for an id not yet known. Without
// it, on PostgreSQL, a status webhook could miss the send's uncommitted id
// and park its status just after the send had looked for parked ones: the
// status was never applied.
func lockExternalID(ctx context.Context, tx *store.Tx, channelID pulid.ID, externalID string) error {
	if err := tx.Lock(ctx, "message:"+string(channelID)+":"+externalID); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	return nil
}

// applyPendingStatuses applies the statuses that arrived for msg's
// platform id before it was recorded, best last, and forgets them. The
// caller holds lockExternalID for the id.
func (s *Service) applyPendingStatuses(ctx context.Context, tx *store.Tx, msg *ent.Message) error {
	if msg.ExternalID == nil {
		return nil
	}
	pending, err := tx.Ent.PendingStatus.Query().
		Where(pendingstatus.ChannelID(msg.ChannelID), pendingstatus.ExternalID(*msg.ExternalID)).All(ctx)
	if err != nil || len(pending) == 0 {
		return err
	}
	for _, p := range pending {
		changed, err := s.applyStatus(ctx, tx, msg, message.DeliveryStatus(p.Status), p.ErrorCode, p.ErrorMessage)
		if err != nil {
			return err
		}
		if changed {
			msg.DeliveryStatus = message.DeliveryStatus(p.Status)
		}
	}
	_, err = tx.Ent.PendingStatus.Delete().
		Where(pendingstatus.ChannelID(msg.ChannelID), pendingstatus.ExternalID(*msg.ExternalID)).Exec(ctx)
	return err
}

// PublishHook receives, in the ingesting transaction, a publication's
// progress reported by a webhook (TikTok's post.publish.*): the
// publishing workflow matches ExternalID to its post here.
type PublishHook func(ctx context.Context, tx *store.Tx, ch *ent.Channel, ev *sdk.Event) error

// ingestPublish hands a publication's progress to OnPublish (the
// publishing workflow, core/publish). Without one nothing waits for it:
// it is logged and counted as ignored, and the delivery is acknowledged
// (an error would make the platform redeliver it for days).
func (s *Service) ingestPublish(ctx context.Context, tx *store.Tx, ch *ent.Channel, ev *sdk.Event, res *IngestResult) error {
	if ev.Publish == nil || s.OnPublish == nil {
		res.Ignored++
		if ev.Publish != nil {
			slog.InfoContext(ctx, "publication progress with no publishing workflow to take it", "channel", ch.ID,
				"publish_id", ev.Publish.ExternalID, "state", ev.Publish.State)
		}
		return nil
	}
	if err := s.OnPublish(ctx, tx, ch, ev); err != nil {
		return fmt.Errorf("inbox: publication progress: %w", err)
	}
	res.Updated++
	return nil
}

func (s *Service) ingestAccount(ctx context.Context, tx *store.Tx, ch *ent.Channel, ae *sdk.AccountEvent, res *IngestResult) error {
	if ae == nil {
		res.Ignored++
		return nil
	}
	switch ae.Type {
	case "authorization_removed", "deauthorized", "token_revoked":
		// The platform has revoked the grant already: its tokens are
		// useless, and keeping a secret nobody can use only risks it.
		// The channel waits for connectChannel to bring new ones.
		if ch.Status == entchannel.StatusNeedsReconnect && len(ch.Credentials) == 0 {
			res.Duplicates++ // a redelivery
			return nil
		}
		msg := "the platform reported " + ae.Type
		if why := ae.Detail["reason_text"]; why != "" {
			msg += " (" + why + ")"
		}
		err := tx.Ent.Channel.UpdateOneID(ch.ID).SetStatus(entchannel.StatusNeedsReconnect).
			SetLastError(msg + ": reconnect the channel").
			ClearCredentials().ClearTokenExpiresAt().Exec(ctx)
		if err != nil {
			return fmt.Errorf("inbox: marking channel: %w", err)
		}
		meta := map[string]string{"type": ae.Type}
		if r := ae.Detail["reason"]; r != "" {
			meta["reason"] = r
		}
		// The person withdrew the authorization: what it brought (the
		// channel's contacts and conversations) is erased with it
		// (core/privacy).
		if ae.Type == "authorization_removed" && s.OnAuthorizationRemoved != nil {
			if err := s.OnAuthorizationRemoved(ctx, tx, ch); err != nil {
				return fmt.Errorf("inbox: erasing what the authorization brought: %w", err)
			}
			meta["erased"] = "contacts and conversations"
		}
		if err := audit.Record(ctx, tx.Ent, "channel.authorization_removed", "Channel", string(ch.ID), meta); err != nil {
			return err
		}
		tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: string(ch.WorkspaceID), ObjectID: string(ch.ID), ChannelID: string(ch.ID)})
		res.Updated++
	default:
		slog.InfoContext(ctx, "account event", "channel", ch.ID, "type", ae.Type)
		res.Ignored++
	}
	return nil
}

// handOff gives a conversation to a human: it is opened, flagged with the
// reason, and the agent stays out of it until someone clears the flag. It
// is left unassigned and needing a human, so it shows in the team's queue
// (where: {needsHuman: true}) until a member takes it.
func (s *Service) handOff(ctx context.Context, tx *store.Tx, convID pulid.ID, reason string) error {
	conv, err := tx.Ent.Conversation.UpdateOneID(convID).
		SetStatus(conversation.StatusOpen).
		SetHandoffReason(reason).
		SetHandedOffAt(s.now()).
		SetNeedsHuman(true).
		ClearAssigneeID().
		ClearAssignedBy().
		Save(ctx)
	if err != nil {
		return fmt.Errorf("inbox: handing off: %w", err)
	}
	tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(conv.WorkspaceID), ObjectID: string(conv.ID),
		ConversationID: string(conv.ID), ChannelID: string(conv.ChannelID)})
	return nil
}

// HandOffTx hands a conversation to a human inside the caller's transaction.
func (s *Service) HandOffTx(ctx context.Context, tx *store.Tx, convID pulid.ID, reason string) error {
	return s.handOff(ctx, tx, convID, reason)
}

// HandOffMessageTx hands the conversation of an inbound message to a human
// because of that message, and records the reason on it: in a comment
// thread the handoff concerns that comment's author only (core/agent).
func (s *Service) HandOffMessageTx(ctx context.Context, tx *store.Tx, msg *ent.Message, reason string) error {
	if err := s.handOff(ctx, tx, msg.ConversationID, reason); err != nil {
		return err
	}
	return flagHandedOff(ctx, tx, msg.ID, reason)
}

// flagHandedOff records a handoff's reason on the inbound message it
// concerns.
func flagHandedOff(ctx context.Context, tx *store.Tx, msgID pulid.ID, reason string) error {
	if err := tx.Ent.Message.UpdateOneID(msgID).SetHandoffReason(reason).Exec(ctx); err != nil {
		return fmt.Errorf("inbox: flagging the handed-off message: %w", err)
	}
	return nil
}

// handOffReply hands off the conversation of a reply that failed; in a
// comment thread the comment it answered is the one a person must see to.
func (s *Service) handOffReply(ctx context.Context, tx *store.Tx, reply *ent.Message, reason string) error {
	if err := s.handOff(ctx, tx, reply.ConversationID, reason); err != nil {
		return err
	}
	if reply.ReplyToExternalID == "" {
		return nil
	}
	comment, err := tx.Ent.Message.Query().Where(message.ConversationID(reply.ConversationID),
		message.DirectionEQ(message.DirectionInbound), message.ExternalID(reply.ReplyToExternalID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbox: loading the comment replied to: %w", err)
	}
	return flagHandedOff(ctx, tx, comment.ID, reason)
}

func attachments(in []sdk.Attachment) []schematype.Attachment {
	out := make([]schematype.Attachment, len(in))
	for i, a := range in {
		out[i] = schematype.Attachment{Type: a.Type, URL: a.URL, MimeType: a.MimeType, Caption: a.Caption, ExternalID: a.ExternalID, Name: a.Name}
	}
	return out
}

func copyMeta(in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	return out
}
