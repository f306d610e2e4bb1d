// Package inbox owns conversations and messages: it stores what webhooks
// bring in (one transaction per delivery, repeats are no-ops), lets members
// triage conversations, and queues replies for delivery. Every write that
// needs follow-up work inserts its River jobs and change events in the same
// transaction.
package inbox

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/ent/user"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// MaxReplyChars bounds a reply; connectors apply their platform's lower
// limits on top.
const MaxReplyChars = 10000

// Service is the inbox.
type Service struct {
	Store *store.Store
	Now   func() time.Time
	// OnInbound hooks run for every new inbound message, in its transaction.
	OnInbound []InboundHook
	// OnInboundCreate hooks run for every new inbound message just before
	// it is stored, in its transaction, and may set fields of what is
	// stored (sentiment scores it there when its model is local); the
	// OnInbound hooks then see the stored message.
	OnInboundCreate []InboundCreateHook
	// OnInboundUpdate hooks add to the update of a new inbound message's
	// conversation, which runs once the message is stored (see
	// InboundUpdateHook); the OnInbound hooks run after it.
	OnInboundUpdate []InboundUpdateHook
	// OnEdited hooks run, in its transaction, for an inbound message the
	// customer edited (its text or a review's rating changed).
	OnEdited []InboundHook
	// Delivery needs the connectors and the channels' credentials.
	Gateway  Gateway
	Channels Credentials
	// Rules are the limits connectors state for their platforms (reply
	// length, reply windows); nil applies only MaxReplyChars.
	Rules RuleSource
	// OnPublish receives the publication outcomes webhooks report (see
	// ingestPublish); nil counts them as ignored.
	OnPublish PublishHook
	// OnAuthorizationRemoved runs, in the webhook's transaction, when a
	// platform reports that the person withdrew the channel's
	// authorization (TikTok's authorization.removed): core/privacy erases
	// what the authorization brought. Nil keeps the data.
	OnAuthorizationRemoved func(ctx context.Context, tx *store.Tx, ch *ent.Channel) error
	// Capabilities says what each connector offers (core/connector's
	// Manager); nil asks the connector (Describe).
	Capabilities CapabilitySource
	// HumanAgentAllowed reports whether the app of connector holds the
	// permission to send a person's messages in the platform's longer
	// human-agent window (Meta's HUMAN_AGENT tag,
	// NEKSIO_META_HUMAN_AGENT_TAG); nil: none does.
	HumanAgentAllowed func(connector string) bool
	// Media is the media store: replies' attachments and customers' files
	// (media.go); nil: replies carry no files and nothing is fetched.
	Media *media.Service
	// MediaFetchMaxBytes bounds a customer's file fetched from a platform
	// (DefaultMediaFetchMaxBytes when zero).
	MediaFetchMaxBytes int64

	templates templateCache
}

// CapabilitySource says whether a connector offers a capability.
type CapabilitySource interface {
	HasCapability(connector string, c sdk.Capability) bool
}

// hasCapability reports whether connector offers c.
func (s *Service) hasCapability(ctx context.Context, connector string, c sdk.Capability) bool {
	if s.Capabilities != nil {
		return s.Capabilities.HasCapability(connector, c)
	}
	if s.Gateway == nil {
		return false
	}
	conn, err := s.Gateway.Get(connector)
	if err != nil {
		return false
	}
	d, err := conn.Describe(ctx)
	return err == nil && slices.Contains(d.Capabilities, c)
}

// RuleSource gives the rules a connector states for a platform in
// Describe (core/connector's Manager), nil when it states none.
type RuleSource interface {
	PlatformRules(connector, platform string) *sdk.PlatformRules
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ConversationUpdate is what updateConversation may change.
type ConversationUpdate struct {
	Status        *conversation.Status
	AssigneeID    *pulid.ID
	ClearAssignee bool
	AIMode        *conversation.AiMode
	ClearAIMode   bool
	// ClearHandoff gives the conversation back to the agent. Resolving a
	// conversation does it too: the next message starts afresh.
	ClearHandoff bool
}

// UpdateConversation triages a conversation.
func (s *Service) UpdateConversation(ctx context.Context, id pulid.ID, in ConversationUpdate) (*ent.Conversation, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	if in.Status != nil {
		if err := conversation.StatusValidator(*in.Status); err != nil {
			return nil, apperr.Invalid("status", "unknown status %q", *in.Status)
		}
	}
	if in.AIMode != nil {
		if err := conversation.AiModeValidator(*in.AIMode); err != nil {
			return nil, apperr.Invalid("aiMode", "unknown AI mode %q", *in.AIMode)
		}
	}
	if in.AssigneeID != nil && in.ClearAssignee {
		return nil, apperr.Invalid("assigneeId", "give assigneeId or clearAssignee, not both")
	}
	var out *ent.Conversation
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		before, err := tx.Ent.Conversation.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("conversation")
		}
		if err != nil {
			return err
		}
		if in.AssigneeID != nil {
			// The user policy shows only members of the viewer's workspace.
			ok, err := tx.Ent.User.Query().Where(user.ID(*in.AssigneeID)).Exist(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Invalid("assigneeId", "no such member in this workspace")
			}
		}
		u := tx.Ent.Conversation.UpdateOneID(id)
		if in.Status != nil {
			u.SetStatus(*in.Status)
		}
		assigned := in.AssigneeID != nil && (before.AssigneeID == nil || *before.AssigneeID != *in.AssigneeID)
		if in.AssigneeID != nil {
			// A member has it now: it leaves the needs-human queue (the
			// handoff itself stays until cleared, keeping the agent out).
			u.SetAssigneeID(*in.AssigneeID).SetNeedsHuman(false)
			if assigned {
				u.SetAssignedBy(v.Actor())
			}
		}
		clearHandoff := in.ClearHandoff || (in.Status != nil && *in.Status == conversation.StatusResolved)
		if in.ClearAssignee {
			// Back to the queue if a person is still needed.
			u.ClearAssigneeID().ClearAssignedBy().SetNeedsHuman(before.HandoffReason != "" && !clearHandoff)
		}
		if in.AIMode != nil {
			u.SetAiMode(*in.AIMode)
		}
		if in.ClearAIMode {
			u.ClearAiMode()
		}
		if clearHandoff {
			u.ClearHandoffReason().ClearHandedOffAt().SetNeedsHuman(false)
		}
		out, err = u.Save(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFound("conversation")
		}
		if err != nil {
			return fmt.Errorf("inbox: updating conversation: %w", err)
		}
		if clearHandoff {
			// The messages that were handed off go back to the agent too.
			if err := tx.Ent.Message.Update().
				Where(message.ConversationID(id), message.HandoffReasonNEQ("")).
				ClearHandoffReason().Exec(ctx); err != nil {
				return fmt.Errorf("inbox: clearing handed-off messages: %w", err)
			}
		}
		if in.Status != nil && *in.Status == conversation.StatusResolved && before.Status != conversation.StatusResolved {
			// The resolution's time and actor: analytics reads resolutions
			// (and resolution times) from these entries.
			if err := audit.Record(ctx, tx.Ent, "conversation.resolve", "Conversation", string(id), nil); err != nil {
				return err
			}
		}
		if assigned {
			if err := audit.Record(ctx, tx.Ent, "conversation.assign", "Conversation", string(id),
				map[string]string{"assignee": string(*in.AssigneeID)}); err != nil {
				return err
			}
		} else if err := audit.Record(ctx, tx.Ent, "conversation.update", "Conversation", string(id),
			conversationChanges(in)); err != nil {
			return err
		}
		if assigned {
			tx.Emit(event.Event{Type: event.ConversationAssigned, WorkspaceID: v.WorkspaceID,
				ObjectID: string(id), ConversationID: string(id), ChannelID: string(out.ChannelID),
				AssigneeID: string(*in.AssigneeID)})
		}
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: v.WorkspaceID,
			ObjectID: string(id), ConversationID: string(id), ChannelID: string(out.ChannelID)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Read again outside the transaction: the caller may load edges
	// (assignee, labels), which the committed transaction can no longer.
	return s.Store.Ent.Conversation.Get(ctx, id)
}

// ReplyMode says how to answer a comment thread.
type ReplyMode string

const (
	ReplyPublic  ReplyMode = "public"
	ReplyPrivate ReplyMode = "private"
)

// Reply is what sendReply takes.
type Reply struct {
	ConversationID pulid.ID
	Text           string
	Mode           ReplyMode
	// AuthorKind is agent for people, ai for the agent.
	AuthorKind message.AuthorKind
	// Draft stores the reply for a human to approve instead of sending it.
	Draft bool
	// InReplyTo names the comment a reply in a comment thread answers: an
	// inbound message of the conversation. Empty answers the newest comment.
	InReplyTo pulid.ID
	// CannedReply sends a canned reply, its variables filled in for this
	// conversation, instead of Text.
	CannedReply pulid.ID
	// Attachments are files of the media store (uploadMedia) to send.
	Attachments []pulid.ID
}

// SendReply stores an outbound message and queues its delivery in the same
// transaction: the message exists if and only if its delivery job does.
func (s *Service) SendReply(ctx context.Context, r Reply) (*ent.Message, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return nil, err
	}
	var out *ent.Message
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if out, err = s.SendReplyTx(ctx, tx, r); err != nil {
			return err
		}
		meta := map[string]string{"conversation": string(out.ConversationID)}
		if len(r.Attachments) > 0 {
			meta["attachments"] = strconv.Itoa(len(r.Attachments))
		}
		if r.CannedReply != "" {
			meta["cannedReply"] = string(r.CannedReply)
		}
		return audit.Record(ctx, tx.Ent, "message.reply.send", "Message", string(out.ID), meta)
	})
	if err != nil {
		return nil, err
	}
	// Read again outside the transaction, so edges resolve.
	return s.Store.Ent.Message.Get(ctx, out.ID)
}

// SendReplyTx is SendReply inside the caller's transaction, so that other
// writes (the agent's run record) commit or roll back with the reply. With
// r.Draft the message is stored as a DRAFT and no delivery is queued.
func (s *Service) SendReplyTx(ctx context.Context, tx *store.Tx, r Reply) (*ent.Message, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(r.Text)
	if r.CannedReply != "" && text != "" {
		return nil, apperr.Invalid("text", "give text or cannedReplyId, not both")
	}
	if text == "" && r.CannedReply == "" && len(r.Attachments) == 0 {
		return nil, apperr.Invalid("text", "text is required (or attachments)")
	}
	if r.AuthorKind == "" {
		r.AuthorKind = message.AuthorKindAgent
	}
	conv, err := tx.Ent.Conversation.Query().Where(conversation.ID(r.ConversationID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("conversation")
	}
	if err != nil {
		return nil, err
	}
	if r.CannedReply != "" {
		if text, err = expandCanned(ctx, tx, conv, r.CannedReply); err != nil {
			return nil, err
		}
		if text = strings.TrimSpace(text); text == "" {
			return nil, apperr.Invalid("cannedReplyId", "the canned reply is empty once its variables are filled in")
		}
	}
	if utf8.RuneCountInString(text) > MaxReplyChars {
		return nil, apperr.Invalid("text", "text is longer than %d characters", MaxReplyChars)
	}
	if conv.Edges.Channel.Status == entchannel.StatusDisconnected {
		return nil, apperr.New(apperr.CodeConflict, "the conversation's channel is disconnected")
	}
	if err := s.checkReply(ctx, tx.Ent, conv, text); err != nil {
		return nil, err
	}
	var atts []schematype.Attachment
	if len(r.Attachments) > 0 {
		if atts, err = s.replyAttachments(ctx, tx, conv, r.Attachments); err != nil {
			return nil, err
		}
	}
	if !r.Draft {
		// Refused here, before anything is queued, rather than by the
		// platform after the reply was stored and the customer waited.
		// Replies to one conversation are counted one at a time, so two
		// at once cannot both take the window's last message.
		if err := tx.Lock(ctx, "replies:"+string(conv.ID)); err != nil {
			return nil, fmt.Errorf("inbox: %w", err)
		}
		if err := s.CheckReplyWindow(ctx, tx.Ent, conv.Edges.Channel, conv, r.AuthorKind); err != nil {
			return nil, err
		}
	}
	mode := r.Mode
	switch {
	case conv.Kind == conversation.KindCommentThread && mode == "":
		mode = ReplyPublic
	case conv.Kind != conversation.KindCommentThread && mode != "":
		return nil, apperr.Invalid("mode", "mode applies to comment threads only")
	}
	var replyTo string
	if r.InReplyTo != "" {
		if replyTo, err = replyToComment(ctx, tx, conv, r.InReplyTo); err != nil {
			return nil, err
		}
	}
	now := s.now()
	status := message.DeliveryStatusPending
	if r.Draft {
		status = message.DeliveryStatusDraft
	}
	create := tx.Ent.Message.Create().
		SetWorkspaceID(pulid.ID(v.WorkspaceID)).
		SetConversationID(conv.ID).
		SetChannelID(conv.ChannelID).
		SetDirection(message.DirectionOutbound).
		SetAuthorKind(r.AuthorKind).
		SetAuthorID(v.Actor()).
		SetText(text).
		SetDeliveryStatus(status).
		SetSentAt(now)
	if mode != "" {
		create.SetMetadata(map[string]string{"reply_mode": string(mode)})
	}
	if len(atts) > 0 {
		create.SetAttachments(atts)
		if text == "" {
			create.SetType(atts[0].Type)
		}
	}
	if replyTo != "" {
		create.SetReplyToExternalID(replyTo)
	}
	out, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("inbox: storing reply: %w", err)
	}
	if !r.Draft {
		if err := tx.Ent.Conversation.UpdateOneID(conv.ID).SetLastMessageAt(now).Exec(ctx); err != nil {
			return nil, fmt.Errorf("inbox: touching conversation: %w", err)
		}
		if err := tx.InsertJob(ctx, jobargs.OutboundDeliver{WorkspaceID: v.WorkspaceID, MessageID: string(out.ID)}, nil); err != nil {
			return nil, err
		}
	}
	tx.Emit(event.Event{Type: event.MessageAdded, WorkspaceID: v.WorkspaceID, ObjectID: string(out.ID),
		ConversationID: string(conv.ID), ChannelID: string(conv.ChannelID)})
	return out, nil
}

// CheckReplyTx applies the checks a reply's text must pass before it is
// queued (the platform's length limits, a review that still exists) to
// text for conversation convID: approving a draft sends it too.
func (s *Service) CheckReplyTx(ctx context.Context, tx *store.Tx, convID pulid.ID, text string) error {
	conv, err := tx.Ent.Conversation.Query().Where(conversation.ID(convID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return apperr.NotFound("conversation")
	}
	if err != nil {
		return fmt.Errorf("inbox: loading conversation: %w", err)
	}
	return s.checkReply(ctx, tx.Ent, conv, strings.TrimSpace(text))
}

// checkReply refuses, before anything is queued, what the platform would
// refuse anyway: a reply longer than the limits its connector states (in
// characters and in UTF-8 bytes: Google takes 4,096 bytes), and a reply to
// a review that was deleted. conv carries its channel.
func (s *Service) checkReply(ctx context.Context, c *ent.Client, conv *ent.Conversation, text string) error {
	ch := conv.Edges.Channel
	if s.Rules != nil {
		if rules := s.Rules.PlatformRules(ch.Connector, ch.Platform); rules != nil {
			if n := utf8.RuneCountInString(text); rules.MaxReplyLength > 0 && n > rules.MaxReplyLength {
				return apperr.Invalid("text", "a reply on %s holds at most %d characters; this one has %d", ch.Platform, rules.MaxReplyLength, n)
			}
			if n := len(text); rules.MaxReplyBytes > 0 && n > rules.MaxReplyBytes {
				return apperr.Invalid("text", "a reply on %s holds at most %d bytes (UTF-8); this one has %d", ch.Platform, rules.MaxReplyBytes, n)
			}
		}
	}
	deleted, err := reviewDeleted(ctx, c, conv)
	if err != nil {
		return err
	}
	if deleted {
		return apperr.New(apperr.CodeConflict, "the review was deleted: it can no longer be answered")
	}
	return nil
}

// reviewDeleted reports whether conv is a review its author (or the
// platform) deleted.
func reviewDeleted(ctx context.Context, c *ent.Client, conv *ent.Conversation) (bool, error) {
	if conv.Kind != conversation.KindReview {
		return false, nil
	}
	ok, err := c.Message.Query().Where(message.ConversationID(conv.ID), message.DirectionEQ(message.DirectionInbound),
		message.ExternalID(conv.ThreadID), message.DeletedAtNotNil()).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("inbox: checking the review: %w", err)
	}
	return ok, nil
}

// replyToComment checks that id names a comment of conv a reply can answer,
// and returns its platform id. Another workspace's message is not found
// (the tenant policy hides it); another conversation's is bad input.
func replyToComment(ctx context.Context, tx *store.Tx, conv *ent.Conversation, id pulid.ID) (string, error) {
	if conv.Kind != conversation.KindCommentThread {
		return "", apperr.Invalid("inReplyToId", "inReplyToId applies to comment threads only")
	}
	m, err := tx.Ent.Message.Query().Where(message.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", apperr.NotFound("message")
	}
	if err != nil {
		return "", fmt.Errorf("inbox: loading the comment replied to: %w", err)
	}
	switch {
	case m.ConversationID != conv.ID:
		return "", apperr.Invalid("inReplyToId", "message %s is not in this conversation", id)
	case m.Direction != message.DirectionInbound || m.ExternalID == nil || *m.ExternalID == "":
		return "", apperr.Invalid("inReplyToId", "message %s is not a comment from a person", id)
	case m.DeletedAt != nil:
		return "", apperr.Invalid("inReplyToId", "comment %s was deleted", id)
	}
	return *m.ExternalID, nil
}

// conversationChanges names what an update changed, for its audit entry.
func conversationChanges(in ConversationUpdate) map[string]string {
	m := map[string]string{}
	if in.Status != nil {
		m["status"] = string(*in.Status)
	}
	if in.AIMode != nil {
		m["aiMode"] = string(*in.AIMode)
	}
	if in.ClearAIMode {
		m["aiMode"] = "inherit"
	}
	if in.ClearAssignee {
		m["assignee"] = "none"
	}
	if in.ClearHandoff {
		m["handoff"] = "cleared"
	}
	return m
}
