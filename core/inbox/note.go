package inbox

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// MaxNoteChars bounds a private note.
const MaxNoteChars = 10000

// NoteType is the type of a private note's message.
const NoteType = "note"

// AddNote stores a private note of the team on a conversation: a message
// with direction INTERNAL. Nothing delivers it, and the agent, sentiment
// and retrieval read inbound customer messages only, so a note never
// reaches the platform or the AI. It is listed with the conversation's
// messages and streamed by messageAdded.
func (s *Service) AddNote(ctx context.Context, conversationID pulid.ID, text string) (*ent.Message, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, apperr.Invalid("text", "text is required")
	}
	if len(text) > 4*MaxNoteChars || utf8.RuneCountInString(text) > MaxNoteChars {
		return nil, apperr.Invalid("text", "a note is at most %d characters", MaxNoteChars)
	}
	var out *ent.Message
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		conv, err := tx.Ent.Conversation.Query().Where(conversation.ID(conversationID)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFound("conversation")
		}
		if err != nil {
			return err
		}
		out, err = tx.Ent.Message.Create().
			SetConversationID(conv.ID).
			SetChannelID(conv.ChannelID).
			SetDirection(message.DirectionInternal).
			SetAuthorKind(message.AuthorKindAgent).
			SetAuthorID(v.Actor()).
			SetType(NoteType).
			SetText(text).
			SetSentAt(s.now()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("inbox: storing note: %w", err)
		}
		tx.Emit(event.Event{Type: event.MessageAdded, WorkspaceID: v.WorkspaceID, ObjectID: string(out.ID),
			ConversationID: string(conv.ID), ChannelID: string(conv.ChannelID)})
		return audit.Record(ctx, tx.Ent, "message.note.add", "Message", string(out.ID),
			map[string]string{"conversation": string(conv.ID)})
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.Message.Get(ctx, out.ID)
}
