package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// Gateway gives access to connectors by name.
type Gateway interface {
	Get(name string) (sdk.Connector, error)
}

// Credentials opens a channel's secrets and app settings for a call.
type Credentials interface {
	Credentials(ch *ent.Channel) (sdk.Credentials, error)
	AppFor(ch *ent.Channel) sdk.App
}

// PrivateReplyWindow is how long after a comment a private reply may be
// sent (Meta: 7 days, once per comment).
const PrivateReplyWindow = 7 * 24 * time.Hour

// Deliver sends a pending outbound message through its channel's
// connector. It is idempotent: a message no longer pending is left alone.
// Retryable failures return an *apperr.Transient (connector.Classify: with
// the platform's Retry-After; whether it runs again is the job layer's
// decision); other
// failures are recorded on the message, the conversation goes to a human,
// and nil is returned.
func (s *Service) Deliver(ctx context.Context, messageID string) error {
	return s.deliver(ctx, messageID, false)
}

// DeliverLastAttempt is Deliver when no retry follows (the job's last
// attempt): a failure that could be retried marks the message FAILED and
// hands the conversation to a person.
func (s *Service) DeliverLastAttempt(ctx context.Context, messageID string) error {
	return s.deliver(ctx, messageID, true)
}

func (s *Service) deliver(ctx context.Context, messageID string, final bool) error {
	msg, err := s.Store.Ent.Message.Query().
		Where(message.ID(pulid.ID(messageID))).
		WithConversation(func(q *ent.ConversationQuery) { q.WithChannel().WithContact() }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil // deleted meanwhile (retention, privacy request)
	}
	if err != nil {
		return apperr.Retry(fmt.Errorf("inbox: loading message: %w", err), 0)
	}
	if msg.DeliveryStatus != message.DeliveryStatusPending || msg.Direction != message.DirectionOutbound {
		return nil
	}
	conv := msg.Edges.Conversation
	ch := conv.Edges.Channel
	if ch.Status == entchannel.StatusDisconnected {
		return s.fail(ctx, msg, &sdk.Error{Class: sdk.ClassPermanent, Message: "the channel is disconnected"})
	}
	req, perr := s.sendRequest(ctx, msg, conv, ch)
	if perr != nil {
		return s.fail(ctx, msg, perr)
	}
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return s.retry(ctx, msg, final, &sdk.Error{Class: sdk.ClassRetryable, Message: "connector " + ch.Connector + " unavailable: " + err.Error()})
	}
	// Anything the platform reports under the id this send gets, from now
	// on, is this send (see adoptEarlier).
	sendStarted := s.now()
	switch claim, err := s.claimSend(ctx, msg); {
	case err != nil:
		return apperr.Retry(err, 0)
	case claim == claimDone:
		return nil
	case claim == claimInterrupted:
		return s.fail(ctx, msg, errInterrupted)
	}
	res, err := conn.Send(ctx, req)
	// What follows records the outcome of a call that happened: the job's
	// deadline must not stop it (a sent reply left PENDING would be sent
	// again), but it is kept short, well inside the rescue window.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err != nil {
		var se *sdk.Error
		if !errors.As(err, &se) {
			se = &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
		}
		if se.Class == sdk.ClassRetryable {
			if !final {
				// The platform refused it: a later run may send.
				if err := s.unclaimSend(ctx, msg); err != nil {
					return apperr.Retry(err, 0)
				}
			}
			return s.retry(ctx, msg, final, se)
		}
		return s.fail(ctx, msg, se)
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if res.ExternalID != "" {
			if err := lockExternalID(ctx, tx, ch.ID, res.ExternalID); err != nil {
				return err
			}
			if err := s.adoptEarlier(ctx, tx, msg, res.ExternalID, sendStarted); err != nil {
				return err
			}
		}
		status := message.DeliveryStatusSent
		if st := message.DeliveryStatus(strings.ToUpper(string(res.Status))); st != "" && message.DeliveryStatusValidator(st) == nil {
			status = st
		}
		u := tx.Ent.Message.UpdateOneID(msg.ID).SetDeliveryStatus(status).ClearErrorCode().ClearErrorMessage().
			SetMetadata(withoutClaim(msg.Metadata))
		if res.ExternalID != "" {
			u.SetExternalID(res.ExternalID)
		}
		updated, err := u.Save(ctx)
		if err != nil {
			return fmt.Errorf("inbox: recording delivery: %w", err)
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
			ConversationID: string(conv.ID), ChannelID: string(ch.ID)})
		return s.applyPendingStatuses(ctx, tx, updated)
	})
}

// echoSkew allows for the clocks of replicas: an echo ingested on another
// one may be stamped a little before this send started.
const echoSkew = 2 * time.Second

// adoptEarlier handles a message that already holds the platform id a
// send answered (the caller holds lockExternalID for it). Either:
//
//   - the platform reported this very send before the send call answered
//     (TikTok's im_send_msg echo, a sync listing the business's own
//     comment): ingest stored it, after the send started and with no
//     author, as a message the business sent elsewhere. It is msg, which
//     keeps its row (author, agent run): the echo is removed. Ingest takes
//     the same lock before it looks, so an echo coming later finds msg's id
//     and is a repeat;
//   - or the platform keeps one reply per thread and replaces it in place
//     (a Google review's reply): the send answers the id the earlier reply
//     holds. The earlier reply stays in the thread, marked replaced by msg
//     (replacedAt, replacedByID), and the id moves to msg.
func (s *Service) adoptEarlier(ctx context.Context, tx *store.Tx, msg *ent.Message, externalID string, sendStarted time.Time) error {
	prev, err := tx.Ent.Message.Query().Where(message.ChannelID(msg.ChannelID), message.ExternalID(externalID),
		message.IDNEQ(msg.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbox: looking up the message holding the id sent: %w", err)
	}
	if prev.Direction != message.DirectionOutbound {
		return fmt.Errorf("inbox: the platform answered id %s for a send, and that id is an inbound message's", externalID)
	}
	if prev.AuthorID == "" && !prev.CreatedAt.Before(sendStarted.Add(-echoSkew)) {
		if err := tx.Ent.Message.DeleteOneID(prev.ID).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: merging an echo: %w", err)
		}
		// No event names a removed message: the conversation's tells
		// subscribers to read its messages again.
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(prev.WorkspaceID), ObjectID: string(prev.ConversationID),
			ConversationID: string(prev.ConversationID), ChannelID: string(prev.ChannelID)})
		return nil
	}
	meta := copyMeta(prev.Metadata)
	meta["replaced_external_id"] = externalID
	if err := tx.Ent.Message.UpdateOneID(prev.ID).ClearExternalID().SetReplacedByID(msg.ID).
		SetReplacedAt(s.now()).SetMetadata(meta).Exec(ctx); err != nil {
		return fmt.Errorf("inbox: marking the reply replaced: %w", err)
	}
	tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(prev.WorkspaceID), ObjectID: string(prev.ID),
		ConversationID: string(prev.ConversationID), ChannelID: string(prev.ChannelID)})
	return nil
}

// recordTimeout bounds recording a send's outcome.
const recordTimeout = 5 * time.Second

// sendStartedKey marks, in a message's metadata, a send that has started
// and whose outcome is not recorded yet.
const sendStartedKey = "send_started_at"

type claim int

const (
	claimed          claim = iota
	claimDone              // no longer pending: nothing to send
	claimInterrupted       // an earlier run started a send and never finished
)

// errInterrupted fails a reply whose earlier send was cut off (its process
// was killed or crashed mid-call). The platforms take no idempotency key,
// so whether the customer got it cannot be known here; sending it again
// could write to them twice. A person checks and resends if needed.
var errInterrupted = &sdk.Error{Class: sdk.ClassPermanent, Code: "interrupted",
	Message: "the send was interrupted and the platform may or may not have delivered it; " +
		"it is not sent again automatically: check the conversation on the platform and resend if needed"}

// claimSend records, before the connector is called, that a send of msg
// is starting. A run that takes the message up after this one died sees
// the mark and does not send again. The message's row is locked (SQLite
// runs one writer at a time), so two runs at once cannot both claim it.
func (s *Service) claimSend(ctx context.Context, msg *ent.Message) (claim, error) {
	out := claimed
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		q := tx.Ent.Message.Query().Where(message.ID(msg.ID))
		if s.Store.Dialect == dialect.Postgres {
			q = q.ForUpdate()
		}
		m, err := q.Only(ctx)
		if ent.IsNotFound(err) {
			out = claimDone
			return nil
		}
		if err != nil {
			return fmt.Errorf("inbox: claiming send: %w", err)
		}
		if m.DeliveryStatus != message.DeliveryStatusPending {
			out = claimDone
			return nil
		}
		if m.Metadata[sendStartedKey] != "" {
			out = claimInterrupted
			return nil
		}
		meta := copyMeta(m.Metadata)
		meta[sendStartedKey] = s.now().UTC().Format(time.RFC3339Nano)
		msg.Metadata = m.Metadata
		return tx.Ent.Message.UpdateOneID(m.ID).SetMetadata(meta).Exec(ctx)
	})
	return out, err
}

// unclaimSend clears the mark of claimSend after a send the platform
// refused, so the next run sends.
func (s *Service) unclaimSend(ctx context.Context, msg *ent.Message) error {
	err := s.Store.Ent.Message.UpdateOneID(msg.ID).
		Where(message.DeliveryStatusEQ(message.DeliveryStatusPending)).
		SetMetadata(withoutClaim(msg.Metadata)).Exec(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("inbox: clearing send mark: %w", err)
	}
	return nil
}

func withoutClaim(meta map[string]string) map[string]string {
	out := copyMeta(meta)
	delete(out, sendStartedKey)
	return out
}

func (s *Service) retry(ctx context.Context, msg *ent.Message, final bool, se *sdk.Error) error {
	if final {
		return s.fail(ctx, msg, se)
	}
	return connector.Classify(se)
}

// fail records a delivery that will not happen and hands the conversation
// to a human with the reason.
func (s *Service) fail(ctx context.Context, msg *ent.Message, se *sdk.Error) error {
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		code := string(se.Class)
		if se.Code != "" {
			code += ":" + se.Code
		}
		if err := tx.Ent.Message.UpdateOneID(msg.ID).
			SetDeliveryStatus(message.DeliveryStatusFailed).
			SetErrorCode(code).
			SetErrorMessage(se.Message).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: recording failure: %w", err)
		}
		tx.Emit(event.Event{Type: event.MessageUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ID),
			ConversationID: string(msg.ConversationID), ChannelID: string(msg.ChannelID)})
		if se.Class == sdk.ClassAuthRevoked {
			if err := tx.Ent.Channel.UpdateOneID(msg.ChannelID).SetStatus(entchannel.StatusNeedsReconnect).
				SetLastError(se.Message).Exec(ctx); err != nil {
				return fmt.Errorf("inbox: marking channel: %w", err)
			}
			tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: string(msg.WorkspaceID), ObjectID: string(msg.ChannelID), ChannelID: string(msg.ChannelID)})
		}
		reason := "delivery failed"
		switch se.Class {
		case sdk.ClassWindowClosed:
			reason = "reply window closed: the platform only accepts a template or a tagged message now"
		case sdk.ClassAuthRevoked:
			reason = "the channel needs reconnecting"
		}
		return s.handOffReply(ctx, tx, msg, reason+" ("+se.Message+")")
	})
}

// sendRequest builds the connector call for msg, applying the host-side
// rules the platforms state (private replies: once per comment, 7 days).
func (s *Service) sendRequest(ctx context.Context, msg *ent.Message, conv *ent.Conversation, ch *ent.Channel) (*sdk.SendRequest, *sdk.Error) {
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassAuthRevoked, Message: "channel credentials unavailable"}
	}
	if creds.Extra == nil {
		creds.Extra = map[string]string{}
	}
	// Connectors serving several platforms tell them apart by this.
	creds.Extra["platform"] = ch.Platform
	req := &sdk.SendRequest{
		App:            s.Channels.AppFor(ch),
		Credentials:    creds,
		AccountID:      ch.ExternalID,
		ThreadID:       conv.ThreadID,
		Text:           msg.Text,
		ReplyToID:      msg.ReplyToExternalID,
		HumanAgent:     msg.AuthorKind == message.AuthorKindAgent,
		IdempotencyKey: string(msg.ID),
	}
	switch conv.Kind {
	case conversation.KindDirectMessage:
		req.Kind = sdk.SendDirect
		if conv.Edges.Contact == nil {
			return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "the conversation has no contact to write to"}
		}
		req.RecipientID = conv.Edges.Contact.ExternalID
		if msg.Type == TypeTemplate {
			templateRequest(msg, req)
		}
		if se := s.sendAttachments(msg, req); se != nil {
			return nil, se
		}
	case conversation.KindReview:
		req.Kind = sdk.SendReviewReply
		req.RecipientID = conv.ThreadID
		switch deleted, err := reviewDeleted(ctx, s.Store.Ent, conv); {
		case err != nil:
			return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
		case deleted:
			return nil, &sdk.Error{Class: sdk.ClassPermanent, Code: "review_deleted", Message: "the review was deleted before its reply was sent"}
		}
	case conversation.KindCommentThread:
		target, err := s.replyTarget(ctx, msg, conv)
		if err != nil {
			return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
		}
		if target == nil {
			return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "no comment to reply to in this thread"}
		}
		req.RecipientID = *target.ExternalID
		req.ReplyToID = ""
		if msg.Metadata["reply_mode"] == string(ReplyPrivate) {
			req.Kind = sdk.SendCommentPrivate
			if s.now().Sub(target.SentAt) > PrivateReplyWindow {
				return nil, &sdk.Error{Class: sdk.ClassWindowClosed, Message: "a private reply must be sent within 7 days of the comment"}
			}
			dup, err := s.Store.Ent.Message.Query().Where(
				message.ConversationID(conv.ID),
				message.IDNEQ(msg.ID),
				message.DirectionEQ(message.DirectionOutbound),
				message.ReplyToExternalID(*target.ExternalID),
				message.DeliveryStatusIn(message.DeliveryStatusSent, message.DeliveryStatusDelivered, message.DeliveryStatusRead),
			).All(ctx)
			if err != nil {
				return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: err.Error()}
			}
			for _, d := range dup {
				if d.Metadata["reply_mode"] == string(ReplyPrivate) {
					return nil, &sdk.Error{Class: sdk.ClassPermanent, Message: "a private reply was already sent to this comment (the platform allows one)"}
				}
			}
		} else {
			req.Kind = sdk.SendCommentPublic
		}
		// Remember which comment was answered (the private-reply rule).
		if msg.ReplyToExternalID != *target.ExternalID {
			_ = s.Store.Ent.Message.UpdateOneID(msg.ID).SetReplyToExternalID(*target.ExternalID).Exec(ctx)
			msg.ReplyToExternalID = *target.ExternalID // a failure hands off that comment
		}
	}
	return req, nil
}

// replyTarget is the comment a reply in a comment thread answers: the one
// it names, else the newest comment from a person.
func (s *Service) replyTarget(ctx context.Context, msg *ent.Message, conv *ent.Conversation) (*ent.Message, error) {
	q := s.Store.Ent.Message.Query().Where(
		message.ConversationID(conv.ID), message.DirectionEQ(message.DirectionInbound), message.ExternalIDNotNil())
	if msg.ReplyToExternalID != "" {
		q = q.Where(message.ExternalID(msg.ReplyToExternalID))
	}
	target, err := q.Order(ent.Desc(message.FieldSentAt)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return target, err
}
