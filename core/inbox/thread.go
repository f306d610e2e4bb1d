package inbox

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// threadLookup is what ingesting a message needs to know before writing:
// the message if it is stored already, its conversation, its contact.
type threadLookup struct {
	// message is the stored message with the same platform id, if any.
	message *ent.Message
	// conv is the message's conversation, nil when there is none yet.
	conv *ent.Conversation
	// contact is the message's contact when contactKnown (nil: none yet).
	// Only ID, Name, Username, AvatarURL and, as far as the profile
	// refresh needs it, ProfileFetchedAt are set.
	contact      *ent.Contact
	contactKnown bool
}

// Columns the lookup adds to the conversation's.
const (
	lkMessageID = "lk_message_id"
	lkContactID = "lk_contact_id"
	lkName      = "lk_contact_name"
	lkUsername  = "lk_contact_username"
	lkAvatarURL = "lk_contact_avatar_url"
	lkProfile   = "lk_contact_profile"
)

// lookupThread reads, in one statement, a message's conversation, whether
// the message is stored already, and its contact (withContact): the
// conversation query (under the workspace filter like any other) with the
// message's id from a subquery and the contact's fields from a join, both
// limited to the conversation's workspace. A message of a conversation
// not yet stored (a new customer) is looked up statement by statement.
// On PostgreSQL the lookup takes the conversation's row lock (FOR UPDATE
// OF the conversation alone), which the ingest holds until it commits.
func (s *Service) lookupThread(ctx context.Context, tx *store.Tx, ch *ent.Channel, m *sdk.Message, withContact bool) (threadLookup, error) {
	var out threadLookup
	stale := s.now().Add(-ProfileRefresh)
	conv, err := tx.Ent.Conversation.Query().
		Where(conversation.ChannelID(ch.ID), conversation.KindEQ(kindOf(m.ThreadKind)), conversation.ThreadID(m.ThreadID)).
		Modify(func(sel *entsql.Selector) {
			if s.Store.Dialect == dialect.Postgres {
				// The conversation's row lock, held until commit: the
				// conversation's update (after the message is stored,
				// see InboundUpdateHook) and the sentiment job rely on
				// it. SQLite runs one transaction at a time.
				sel.ForUpdate(entsql.WithLockTables(conversation.Table))
			}
			// Both joined tables are unique on (channel_id, external_id):
			// one row at most. No added column is ever NULL: ent scans
			// them by the type the driver reports, which SQLite derives
			// from the value (and has none for NULL).
			msgs := entsql.Table(message.Table).As("lk_m")
			sel.LeftJoin(msgs).OnP(entsql.And(
				entsql.EQ(msgs.C(message.FieldChannelID), ch.ID),
				entsql.EQ(msgs.C(message.FieldExternalID), m.ExternalID),
				entsql.ColumnsEQ(msgs.C(message.FieldWorkspaceID), sel.C(conversation.FieldWorkspaceID)),
			))
			sel.AppendSelectExprAs(orEmpty(msgs.C(message.FieldID)), lkMessageID)
			if !withContact {
				return
			}
			ct := entsql.Table(contact.Table).As("lk_c")
			sel.LeftJoin(ct).OnP(entsql.And(
				entsql.EQ(ct.C(contact.FieldChannelID), ch.ID),
				entsql.EQ(ct.C(contact.FieldExternalID), m.Contact.ExternalID),
				entsql.ColumnsEQ(ct.C(contact.FieldWorkspaceID), sel.C(conversation.FieldWorkspaceID)),
			))
			sel.AppendSelectExprAs(orEmpty(ct.C(contact.FieldID)), lkContactID)
			sel.AppendSelectExprAs(orEmpty(ct.C(contact.FieldName)), lkName)
			sel.AppendSelectExprAs(orEmpty(ct.C(contact.FieldUsername)), lkUsername)
			sel.AppendSelectExprAs(orEmpty(ct.C(contact.FieldAvatarURL)), lkAvatarURL)
			// 0: profile never read, 1: read recently, 2: read before the
			// refresh interval.
			fetched := ct.C(contact.FieldProfileFetchedAt)
			sel.AppendSelectExprAs(entsql.ExprFunc(func(b *entsql.Builder) {
				b.WriteString("CASE WHEN ").Ident(fetched).WriteString(" IS NULL THEN 0 WHEN ").
					Ident(fetched).WriteString(" < ").Arg(stale).WriteString(" THEN 2 ELSE 1 END")
			}), lkProfile)
		}).
		Only(ctx)
	if ent.IsNotFound(err) {
		return s.lookupNewThread(ctx, tx, ch, m)
	}
	if err != nil {
		return out, fmt.Errorf("inbox: looking up conversation: %w", err)
	}
	out.conv = conv
	if id := valueString(conv, lkMessageID); id != "" {
		if out.message, err = tx.Ent.Message.Get(ctx, pulid.ID(id)); err != nil {
			return out, fmt.Errorf("inbox: looking up message: %w", err)
		}
		return out, nil
	}
	if withContact {
		out.contactKnown = true
		if id := valueString(conv, lkContactID); id != "" {
			out.contact = &ent.Contact{ID: pulid.ID(id), WorkspaceID: ch.WorkspaceID, ChannelID: ch.ID,
				ExternalID: m.Contact.ExternalID, Name: valueString(conv, lkName),
				Username: valueString(conv, lkUsername), AvatarURL: valueString(conv, lkAvatarURL)}
			// Only whether and how long ago matters (see queueLookups).
			switch v, _ := conv.Value(lkProfile); fmt.Sprint(v) {
			case "1":
				now := s.now()
				out.contact.ProfileFetchedAt = &now
			case "2":
				out.contact.ProfileFetchedAt = &time.Time{}
			}
		}
	}
	return out, nil
}

// lookupNewThread is lookupThread when the conversation does not exist:
// the message may still (a thread that moved); the contact is looked up
// when it is upserted.
func (s *Service) lookupNewThread(ctx context.Context, tx *store.Tx, ch *ent.Channel, m *sdk.Message) (threadLookup, error) {
	var out threadLookup
	msg, err := tx.Ent.Message.Query().
		Where(message.ChannelID(ch.ID), message.ExternalID(m.ExternalID)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return out, fmt.Errorf("inbox: looking up message: %w", err)
	}
	out.message = msg
	return out, nil
}

// valueString is a text column the lookup added, "" when NULL.
func valueString(c *ent.Conversation, name string) string {
	v, err := c.Value(name)
	if err != nil || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// orEmpty is column, or ” when NULL.
func orEmpty(column string) entsql.Querier {
	return entsql.ExprFunc(func(b *entsql.Builder) {
		b.WriteString("COALESCE(").Ident(column).WriteString(", '')")
	})
}
