package inbox

import (
	"context"
	"fmt"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// DeleteReviewReply deletes the business's reply to a review at the
// platform (the connector's Delete, kind review_reply), then marks it
// deleted: it stays in the thread with deletedAt, and no longer holds the
// platform's id, so a reply written later (here or in the platform's own
// interface) is a new message. Audited. Refused, with nothing changed,
// when the conversation is not a review, has no reply, or a reply is still
// being sent.
func (s *Service) DeleteReviewReply(ctx context.Context, convID pulid.ID) (*ent.Message, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	conv, err := s.Store.Ent.Conversation.Query().Where(conversation.ID(convID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("conversation")
	}
	if err != nil {
		return nil, fmt.Errorf("inbox: loading conversation: %w", err)
	}
	if conv.Kind != conversation.KindReview {
		return nil, apperr.Invalid("conversationId", "only a review's reply can be deleted; this conversation is a %s", conv.Kind)
	}
	ch := conv.Edges.Channel
	if ch.Status == entchannel.StatusDisconnected {
		return nil, apperr.New(apperr.CodeConflict, "the conversation's channel is disconnected")
	}
	sending, err := s.Store.Ent.Message.Query().Where(message.ConversationID(conv.ID), message.DirectionEQ(message.DirectionOutbound),
		message.DeliveryStatusEQ(message.DeliveryStatusPending)).Exist(ctx)
	if err != nil {
		return nil, fmt.Errorf("inbox: looking for replies being sent: %w", err)
	}
	if sending {
		return nil, apperr.New(apperr.CodeConflict, "a reply to this review is being sent: delete it once it is sent")
	}
	reply, err := s.Store.Ent.Message.Query().Where(message.ConversationID(conv.ID), message.DirectionEQ(message.DirectionOutbound),
		message.ExternalIDNotNil(), message.DeletedAtIsNil(),
		message.DeliveryStatusIn(message.DeliveryStatusSent, message.DeliveryStatusDelivered, message.DeliveryStatusRead)).
		Order(ent.Desc(message.FieldSentAt), ent.Desc(message.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.CodeConflict, "this review has no reply to delete")
	}
	if err != nil {
		return nil, fmt.Errorf("inbox: loading the review's reply: %w", err)
	}
	if err := s.deleteAtPlatform(ctx, ch, conv, reply); err != nil {
		return nil, err
	}
	var out *ent.Message
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		meta := copyMeta(reply.Metadata)
		meta["deleted_external_id"] = *reply.ExternalID
		meta["deleted_by"] = v.Actor()
		out, err = tx.Ent.Message.UpdateOneID(reply.ID).SetDeletedAt(s.now()).ClearExternalID().SetMetadata(meta).Save(ctx)
		if err != nil {
			return fmt.Errorf("inbox: marking the reply deleted: %w", err)
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: v.WorkspaceID, ObjectID: string(reply.ID),
			ConversationID: string(conv.ID), ChannelID: string(ch.ID)})
		return audit.Record(ctx, tx.Ent, "message.reply.delete", "Message", string(reply.ID),
			map[string]string{"conversation": string(conv.ID), "external_id": *reply.ExternalID})
	})
	return out, err
}

// deleteAtPlatform asks the channel's connector to delete reply, and turns
// its refusals into the API's errors.
func (s *Service) deleteAtPlatform(ctx context.Context, ch *ent.Channel, conv *ent.Conversation, reply *ent.Message) error {
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return apperr.Unavailable(err, "connector %s is unavailable; try again", ch.Connector)
	}
	d, ok := conn.(sdk.Deleter)
	if !ok {
		return apperr.Invalid("conversationId", "connector %s cannot delete replies", ch.Connector)
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return apperr.New(apperr.CodeConflict, "the channel's credentials are unavailable: reconnect it")
	}
	err = d.Delete(ctx, &sdk.DeleteRequest{App: s.Channels.AppFor(ch), Credentials: creds, AccountID: ch.ExternalID,
		Kind: sdk.SendReviewReply, ExternalID: *reply.ExternalID, ThreadID: conv.ThreadID})
	switch sdk.ClassOf(err) {
	case "":
		return nil
	case sdk.ClassRetryable:
		return apperr.Unavailable(err, "the platform is unavailable; try again")
	case sdk.ClassUnsupported:
		return apperr.Invalid("conversationId", "%s cannot delete this reply", ch.Platform)
	case sdk.ClassAuthRevoked:
		if merr := s.markNeedsReconnect(ctx, ch, "the platform refused the token: "+err.Error()); merr != nil {
			return merr
		}
		return apperr.New(apperr.CodeConflict, "the platform refused the channel's token: reconnect the channel")
	default:
		return apperr.New(apperr.CodeConflict, "the platform refused to delete the reply: %v", err)
	}
}
