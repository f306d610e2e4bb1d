package inbox

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/internal/memo"
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

// lookupThread reads, in one statement, a message's conversation, whether
// the message is stored already, and its contact (withContact): the
// conversation with the message's id and the contact's fields from two
// joins, all limited to the viewer's workspace. A message of a
// conversation not yet stored (a new customer) is looked up statement by
// statement.
//
// On PostgreSQL, when the message is new, the lookup takes the
// conversation's row lock, held until the ingest commits: FOR NO KEY
// UPDATE, the strength its UPDATE takes anyway (a message's foreign key
// check does not wait for it; every other ingest of the conversation and
// the sentiment job's FOR UPDATE do). The conversation's update (after the
// message is stored, see InboundUpdateHook) and the sentiment job rely on
// it; SQLite runs one transaction at a time. A message stored already (an
// edit, a removal, a repeat) takes no lock here: its changes lock the
// message's row before the conversation's, as the agent and the sentiment
// job do, and locking the conversation first could deadlock with them
// (TestEditWhileMessageLocked).
//
// Every delivery runs it, so its text is written once per dialect and
// shape (lookupText) instead of built by ent's query builder each time,
// and its rows are decoded by ent's own scanning (ConversationClient's
// ScanValues and FromRow). Not being an ent query, it does not pass
// through the privacy policy: it writes the policy's workspace filter
// itself, from the same viewer (TestLookupStaysInItsWorkspace).
func (s *Service) lookupThread(ctx context.Context, tx *store.Tx, ch *ent.Channel, m *sdk.Message, withContact bool) (threadLookup, error) {
	var out threadLookup
	v := tenant.FromContext(ctx)
	if v == nil || v.WorkspaceID == "" {
		// As the privacy policy denies an ent query without one.
		return out, fmt.Errorf("inbox: looking up conversation without a workspace viewer: %w", tenant.ErrForbidden)
	}
	args := make([]any, 0, 9)
	if withContact {
		args = append(args, s.now().Add(-ProfileRefresh))
	}
	args = append(args, ch.ID, m.ExternalID)
	if withContact {
		args = append(args, ch.ID, m.Contact.ExternalID)
	}
	args = append(args, v.WorkspaceID, ch.ID, kindOf(m.ThreadKind), m.ThreadID)
	rows, err := tx.SQL.QueryContext(ctx, lookupText(s.Store.Dialect, withContact), args...)
	if err != nil {
		return out, fmt.Errorf("inbox: looking up conversation: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return out, fmt.Errorf("inbox: looking up conversation: %w", err)
		}
		_ = rows.Close()
		return s.lookupNewThread(ctx, tx, ch, m)
	}
	values, err := tx.Ent.Conversation.ScanValues(conversation.Columns)
	if err != nil {
		return out, fmt.Errorf("inbox: looking up conversation: %w", err)
	}
	var messageID, contactID, name, username, avatarURL string
	var profile, locked int64
	dest := append(values, &messageID)
	if withContact {
		dest = append(dest, &contactID, &name, &username, &avatarURL, &profile)
	}
	if s.Store.Dialect == dialect.Postgres {
		dest = append(dest, &locked)
	}
	if err := rows.Scan(dest...); err != nil {
		return out, fmt.Errorf("inbox: looking up conversation: %w", err)
	}
	if err := rows.Close(); err != nil {
		return out, fmt.Errorf("inbox: looking up conversation: %w", err)
	}
	if out.conv, err = tx.Ent.Conversation.FromRow(conversation.Columns, values); err != nil {
		return out, fmt.Errorf("inbox: looking up conversation: %w", err)
	}
	if messageID != "" {
		if out.message, err = tx.Ent.Message.Get(ctx, pulid.ID(messageID)); err != nil {
			return out, fmt.Errorf("inbox: looking up message: %w", err)
		}
		return out, nil
	}
	if withContact {
		out.contactKnown = true
		if contactID != "" {
			out.contact = &ent.Contact{ID: pulid.ID(contactID), WorkspaceID: ch.WorkspaceID, ChannelID: ch.ID,
				ExternalID: m.Contact.ExternalID, Name: name, Username: username, AvatarURL: avatarURL}
			// Only whether and how long ago matters (see queueLookups).
			switch profile {
			case profileRecent:
				now := s.now()
				out.contact.ProfileFetchedAt = &now
			case profileStale:
				out.contact.ProfileFetchedAt = &time.Time{}
			}
		}
	}
	return out, nil
}

// The lookup's contact profile column: never read, read within
// ProfileRefresh, read before it.
const (
	profileNever  = 0
	profileRecent = 1
	profileStale  = 2
)

type lookupKey struct {
	dialect     string
	withContact bool
}

var lookupTexts memo.Map[lookupKey, string]

// lookupText is lookupThread's statement. Its parameters, in order: with
// the contact, the time before which a profile is stale; the channel and
// the message's platform id; with the contact, the channel and the
// contact's platform id; the workspace, the channel, the conversation's
// kind and thread id. Both joined tables are unique on (channel_id,
// external_id), and the conversation on (channel_id, kind, thread_id):
// one row at most.
func lookupText(d string, withContact bool) string {
	return lookupTexts.Get(lookupKey{d, withContact}, buildLookupText)
}

func buildLookupText(key lookupKey) string {
	d, withContact := key.dialect, key.withContact
	n := 0
	ph := func() string {
		n++
		if d == dialect.Postgres {
			return "$" + strconv.Itoa(n)
		}
		return "?"
	}
	// Both dialects take double-quoted identifiers.
	col := func(table, column string) string { return table + `."` + column + `"` }
	var sel, rest strings.Builder
	for i, c := range conversation.Columns {
		if i > 0 {
			sel.WriteString(", ")
		}
		sel.WriteString(col("c", c))
	}
	sel.WriteString(", COALESCE(" + col("m", message.FieldID) + ", '')")
	if withContact {
		for _, c := range []string{contact.FieldID, contact.FieldName, contact.FieldUsername, contact.FieldAvatarURL} {
			sel.WriteString(", COALESCE(" + col("ct", c) + ", '')")
		}
		fetched := col("ct", contact.FieldProfileFetchedAt)
		fmt.Fprintf(&sel, ", CASE WHEN %s IS NULL THEN %d WHEN %s < %s THEN %d ELSE %d END",
			fetched, profileNever, fetched, ph(), profileStale, profileRecent)
	}
	msgChannel, msgExternal := ph(), ph()
	fmt.Fprintf(&rest, ` FROM "%s" AS c LEFT JOIN "%s" AS m ON %s = %s AND %s = %s AND %s = %s`, conversation.Table, message.Table,
		col("m", message.FieldChannelID), msgChannel, col("m", message.FieldExternalID), msgExternal,
		col("m", message.FieldWorkspaceID), col("c", conversation.FieldWorkspaceID))
	if withContact {
		fmt.Fprintf(&rest, ` LEFT JOIN "%s" AS ct ON %s = %s AND %s = %s AND %s = %s`, contact.Table,
			col("ct", contact.FieldChannelID), ph(), col("ct", contact.FieldExternalID), ph(),
			col("ct", contact.FieldWorkspaceID), col("c", conversation.FieldWorkspaceID))
	}
	where := fmt.Sprintf(" WHERE %s = %s AND %s = %s AND %s = %s AND %s = %s",
		col("c", conversation.FieldWorkspaceID), ph(), col("c", conversation.FieldChannelID), ph(),
		col("c", conversation.FieldKind), ph(), col("c", conversation.FieldThreadID), ph())
	rest.WriteString(where)
	var b strings.Builder
	if d == dialect.Postgres {
		// The conversation's row lock, only when the message is new (see
		// lookupThread), taken by a CTE the select list reads once. The
		// CTE reuses the statement's parameters.
		fmt.Fprintf(&b, `WITH lk AS (SELECT %s FROM "%s" AS c%s AND NOT EXISTS (SELECT 1 FROM "%s" AS m WHERE %s = %s AND %s = %s AND %s = %s) FOR NO KEY UPDATE OF c) `,
			col("c", conversation.FieldID), conversation.Table, where, message.Table,
			col("m", message.FieldChannelID), msgChannel, col("m", message.FieldExternalID), msgExternal,
			col("m", message.FieldWorkspaceID), col("c", conversation.FieldWorkspaceID))
		sel.WriteString(", (SELECT COUNT(*) FROM lk)")
	}
	b.WriteString("SELECT " + sel.String() + rest.String())
	return b.String()
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
