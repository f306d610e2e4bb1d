package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// Some platforms leave out what people want to see: a Messenger or
// Instagram DM carries only the sender's id, a comment only its post's id.
// Connectors that can read them (capability lookup) are asked by a job
// queued in the ingesting transaction, so ingestion never waits on the
// platform, and what they answer is kept: a profile is read again after
// ProfileRefresh, a post's context once.

// ProfileRefresh is how long a looked-up profile is kept before the next
// message of its contact reads it again.
const ProfileRefresh = 7 * 24 * time.Hour

// queueLookups queues the lookups a new message calls for. ctx carries a
// viewer of the channel's workspace; tx is the ingesting transaction.
func (s *Service) queueLookups(ctx context.Context, tx *store.Tx, ch *ent.Channel, m *sdk.Message, ct *ent.Contact, conv *ent.Conversation) error {
	if m.Direction == sdk.Outbound || m.Action == sdk.ActionDeleted {
		return nil
	}
	ws := string(ch.WorkspaceID)
	profile := ct != nil && m.ThreadKind == sdk.ThreadDirect &&
		(ct.ProfileFetchedAt == nil && ct.Name == "" || ct.ProfileFetchedAt != nil && s.now().Sub(*ct.ProfileFetchedAt) > ProfileRefresh)
	thread := m.ThreadKind == sdk.ThreadComment && conv.ContextFetchedAt == nil
	if !profile && !thread || !s.hasCapability(ctx, ch.Connector, sdk.CapLookup) {
		return nil
	}
	if profile {
		if err := tx.InsertJob(ctx, jobargs.ContactLookup{WorkspaceID: ws, ContactID: string(ct.ID)}, nil); err != nil {
			return fmt.Errorf("inbox: queueing the profile lookup: %w", err)
		}
	}
	if thread {
		if err := tx.InsertJob(ctx, jobargs.ConversationLookup{WorkspaceID: ws, ConversationID: string(conv.ID)}, nil); err != nil {
			return fmt.Errorf("inbox: queueing the thread lookup: %w", err)
		}
	}
	return nil
}

// lookuper returns the channel's connector as a Lookuper and the request
// it is asked with, or nil when there is nothing to ask.
func (s *Service) lookuper(ch *ent.Channel) (sdk.Lookuper, *sdk.LookupRequest, error) {
	if ch.Status == entchannel.StatusDisconnected {
		return nil, nil, nil
	}
	conn, err := s.Gateway.Get(ch.Connector)
	if err != nil {
		return nil, nil, apperr.Retry(fmt.Errorf("inbox: connector %s: %w", ch.Connector, err), 0)
	}
	lk, ok := conn.(sdk.Lookuper)
	if !ok {
		return nil, nil, nil
	}
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return nil, nil, nil // no token (NEEDS_RECONNECT): nothing to read with
	}
	return lk, &sdk.LookupRequest{App: s.Channels.AppFor(ch), Credentials: withPlatform(creds, ch.Platform),
		AccountID: ch.ExternalID, Platform: ch.Platform}, nil
}

// lookupRetry is the transient error of a lookup the platform may answer
// later (connector.Classify: with its Retry-After), nil for a refusal to
// record.
func lookupRetry(err error) error {
	if sdk.ClassOf(err) != sdk.ClassRetryable {
		return nil
	}
	return connector.Classify(err)
}

// giveUpLookup is a lookup's last attempt: a profile or a thread's context
// is optional (the next message of the contact or thread asks again), so a
// failure that could have been retried ends the job, marked permanent,
// with nothing recorded.
func giveUpLookup(err error) error {
	if _, ok := apperr.RetryAfter(err); ok {
		return apperr.Permanent(err)
	}
	return err
}

// LookupContact reads a contact's profile (name, username, picture)
// through its channel's connector and keeps it. A refusal (the platform
// answers only for people who wrote to the account) is recorded as read,
// so it is asked again only after ProfileRefresh; a platform that may
// answer later returns an *apperr.Transient.
func (s *Service) LookupContact(ctx context.Context, contactID pulid.ID) error {
	return s.readContact(ctx, contactID)
}

// LookupContactLastAttempt is LookupContact when no retry follows: what
// would be retried is given up (apperr.Permanent; see giveUpLookup).
func (s *Service) LookupContactLastAttempt(ctx context.Context, contactID pulid.ID) error {
	return giveUpLookup(s.readContact(ctx, contactID))
}

func (s *Service) readContact(ctx context.Context, contactID pulid.ID) error {
	ct, err := s.Store.Ent.Contact.Query().Where(contact.ID(contactID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return apperr.Retry(fmt.Errorf("inbox: loading contact: %w", err), 0)
	}
	ch := ct.Edges.Channel
	lk, req, err := s.lookuper(ch)
	if err != nil || lk == nil {
		return err
	}
	req.ID, req.ThreadKind = ct.ExternalID, sdk.ThreadDirect
	got, err := lk.LookupContact(ctx, req)
	if err != nil {
		if retry := lookupRetry(err); retry != nil {
			return retry
		}
		slog.InfoContext(ctx, "contact lookup refused", "contact", ct.ID, "connector", ch.Connector, "class", sdk.ClassOf(err))
		got = nil
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		u := tx.Ent.Contact.UpdateOneID(ct.ID).SetProfileFetchedAt(s.now())
		if got != nil {
			if got.Name != "" {
				u.SetName(got.Name)
			}
			if got.Username != "" {
				u.SetUsername(got.Username)
			}
			if got.AvatarURL != "" {
				u.SetAvatarURL(got.AvatarURL)
			}
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("inbox: recording the profile: %w", err)
		}
		if got == nil {
			return nil
		}
		// Conversations show their contact's name: tell their subscribers.
		convs, err := tx.Ent.Conversation.Query().Where(conversation.ContactID(ct.ID)).IDs(ctx)
		if err != nil {
			return fmt.Errorf("inbox: listing the contact's conversations: %w", err)
		}
		for _, id := range convs {
			tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(ct.WorkspaceID), ObjectID: string(id),
				ConversationID: string(id), ChannelID: string(ch.ID)})
		}
		return nil
	})
}

// LookupThread reads a comment thread's context (its post's text,
// permalink and picture) through its channel's connector and keeps it as
// the conversation's subject, url and thumbnailURL. A refusal is recorded
// as read; a platform that may answer later returns an *apperr.Transient.
func (s *Service) LookupThread(ctx context.Context, conversationID pulid.ID) error {
	return s.readThread(ctx, conversationID)
}

// LookupThreadLastAttempt is LookupThread when no retry follows: what
// would be retried is given up (apperr.Permanent; see giveUpLookup).
func (s *Service) LookupThreadLastAttempt(ctx context.Context, conversationID pulid.ID) error {
	return giveUpLookup(s.readThread(ctx, conversationID))
}

func (s *Service) readThread(ctx context.Context, conversationID pulid.ID) error {
	conv, err := s.Store.Ent.Conversation.Query().Where(conversation.ID(conversationID)).WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return apperr.Retry(fmt.Errorf("inbox: loading conversation: %w", err), 0)
	}
	ch := conv.Edges.Channel
	lk, req, err := s.lookuper(ch)
	if err != nil || lk == nil {
		return err
	}
	req.ID, req.ThreadKind = conv.ThreadID, threadKindOf(conv.Kind)
	got, err := lk.LookupThread(ctx, req)
	if err != nil {
		if retry := lookupRetry(err); retry != nil {
			return retry
		}
		slog.InfoContext(ctx, "thread lookup refused", "conversation", conv.ID, "connector", ch.Connector, "class", sdk.ClassOf(err))
		got = nil
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		u := tx.Ent.Conversation.UpdateOneID(conv.ID).SetContextFetchedAt(s.now())
		if got != nil {
			// The platform's own reading wins over what a webhook carried.
			if got.Subject != "" {
				u.SetSubject(got.Subject)
			}
			if got.URL != "" {
				u.SetURL(got.URL)
			}
			if got.ThumbnailURL != "" {
				u.SetThumbnailURL(got.ThumbnailURL)
			}
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("inbox: recording the thread's context: %w", err)
		}
		if got != nil {
			tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: string(conv.WorkspaceID), ObjectID: string(conv.ID),
				ConversationID: string(conv.ID), ChannelID: string(ch.ID)})
		}
		return nil
	})
}
