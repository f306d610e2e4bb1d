package inbox

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/label"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// MaxLabelChars bounds a label's name.
const MaxLabelChars = 50

var labelColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// CreateLabel adds a label to the workspace (admins). Names are unique
// regardless of case: "VIP" and "vip" are one label.
func (s *Service) CreateLabel(ctx context.Context, name, color string) (*ent.Label, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxLabelChars {
		return nil, apperr.Invalid("name", "a label name is 1 to %d characters", MaxLabelChars)
	}
	color = strings.TrimSpace(color)
	if color != "" && !labelColor.MatchString(color) {
		return nil, apperr.Invalid("color", "a color is #RRGGBB")
	}
	key := strings.ToLower(name)
	var out *ent.Label
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		dup, err := tx.Ent.Label.Query().Where(label.NameKey(key)).Exist(ctx)
		if err != nil {
			return err
		}
		if dup {
			return apperr.New(apperr.CodeConflict, "a label named %q exists", name)
		}
		if out, err = tx.Ent.Label.Create().SetName(name).SetNameKey(key).SetColor(color).Save(ctx); err != nil {
			return fmt.Errorf("inbox: creating label: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "label.create", "Label", string(out.ID), map[string]string{"name": name})
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.Label.Get(ctx, out.ID)
}

// DeleteLabel removes a label and takes it off every conversation (admins).
func (s *Service) DeleteLabel(ctx context.Context, id pulid.ID) error {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		l, err := tx.Ent.Label.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("label")
		}
		if err != nil {
			return err
		}
		if err := tx.Ent.Label.DeleteOne(l).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: deleting label: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "label.delete", "Label", string(id), map[string]string{"name": l.Name})
	})
}

// LabelConversation puts a label on a conversation, or takes it off
// (remove). Either way is idempotent.
func (s *Service) LabelConversation(ctx context.Context, conversationID, labelID pulid.ID, remove bool) (*ent.Conversation, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	var out *ent.Conversation
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		conv, err := tx.Ent.Conversation.Query().Where(conversation.ID(conversationID)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.NotFound("conversation")
		}
		if err != nil {
			return err
		}
		l, err := tx.Ent.Label.Get(ctx, labelID)
		if ent.IsNotFound(err) {
			return apperr.NotFound("label")
		}
		if err != nil {
			return err
		}
		has, err := l.QueryConversations().Where(conversation.ID(conv.ID)).Exist(ctx)
		if err != nil {
			return err
		}
		switch {
		case remove && has:
			err = tx.Ent.Label.UpdateOne(l).RemoveConversationIDs(conv.ID).Exec(ctx)
		case !remove && !has:
			err = tx.Ent.Label.UpdateOne(l).AddConversationIDs(conv.ID).Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("inbox: labelling: %w", err)
		}
		out = conv
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: v.WorkspaceID,
			ObjectID: string(conv.ID), ConversationID: string(conv.ID), ChannelID: string(conv.ChannelID)})
		action := "conversation.label"
		if remove {
			action = "conversation.unlabel"
		}
		return audit.Record(ctx, tx.Ent, action, "Conversation", string(conv.ID), map[string]string{"label": string(l.ID)})
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.Conversation.Get(ctx, out.ID)
}
