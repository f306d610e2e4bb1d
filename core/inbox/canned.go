package inbox

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/cannedreply"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/user"
)

// Canned reply limits.
const (
	MaxShortcutChars    = 50
	MaxCannedReplyChars = 4096
)

var (
	shortcutPattern = regexp.MustCompile(`^[a-z0-9_-]{1,50}$`)
	// variablePattern matches {{contact.name}}, spaces allowed inside.
	variablePattern = regexp.MustCompile(`\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}`)
)

// CannedVariables are the variables a canned reply may use.
var CannedVariables = []string{"contact.name", "contact.first_name", "agent.name", "workspace.name", "channel.name"}

func knownVariable(name string) bool {
	for _, v := range CannedVariables {
		if v == name {
			return true
		}
	}
	return false
}

// checkTemplate refuses unknown variables and stray braces.
func checkTemplate(text string) error {
	matches := variablePattern.FindAllStringSubmatch(text, -1)
	for _, m := range matches {
		if !knownVariable(m[1]) {
			return apperr.Invalid("text", "unknown variable {{%s}}: use %s", m[1], strings.Join(CannedVariables, ", "))
		}
	}
	if strings.Count(text, "{{") != len(matches) || strings.Count(text, "}}") != len(matches) {
		return apperr.Invalid("text", "malformed variable: write {{contact.name}}")
	}
	return nil
}

// CreateCannedReply saves a reply under a shortcut ([a-z0-9_-], unique
// in the workspace).
func (s *Service) CreateCannedReply(ctx context.Context, shortcut, text string) (*ent.CannedReply, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	shortcut = strings.TrimSpace(shortcut)
	if !shortcutPattern.MatchString(shortcut) {
		return nil, apperr.Invalid("shortcut", "a shortcut is 1 to %d of a-z, 0-9, _ and -", MaxShortcutChars)
	}
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > MaxCannedReplyChars {
		return nil, apperr.Invalid("text", "a canned reply is 1 to %d characters", MaxCannedReplyChars)
	}
	if err := checkTemplate(text); err != nil {
		return nil, err
	}
	var out *ent.CannedReply
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		dup, err := tx.Ent.CannedReply.Query().Where(cannedreply.Shortcut(shortcut)).Exist(ctx)
		if err != nil {
			return err
		}
		if dup {
			return apperr.New(apperr.CodeConflict, "a canned reply with shortcut %q exists", shortcut)
		}
		out, err = tx.Ent.CannedReply.Create().SetShortcut(shortcut).SetText(text).SetCreatedBy(v.Actor()).Save(ctx)
		if err != nil {
			return fmt.Errorf("inbox: creating canned reply: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "canned_reply.create", "CannedReply", string(out.ID), map[string]string{"shortcut": shortcut})
	})
	return out, err
}

// DeleteCannedReply removes a canned reply.
func (s *Service) DeleteCannedReply(ctx context.Context, id pulid.ID) error {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		c, err := tx.Ent.CannedReply.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("canned reply")
		}
		if err != nil {
			return err
		}
		if err := tx.Ent.CannedReply.DeleteOne(c).Exec(ctx); err != nil {
			return fmt.Errorf("inbox: deleting canned reply: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "canned_reply.delete", "CannedReply", string(id), map[string]string{"shortcut": c.Shortcut})
	})
}

// expandCanned fills a canned reply's variables for a conversation.
func expandCanned(ctx context.Context, tx *store.Tx, conv *ent.Conversation, id pulid.ID) (string, error) {
	c, err := tx.Ent.CannedReply.Get(ctx, id)
	if ent.IsNotFound(err) {
		return "", apperr.NotFound("canned reply")
	}
	if err != nil {
		return "", err
	}
	vals := map[string]string{}
	if conv.Edges.Channel != nil {
		vals["channel.name"] = conv.Edges.Channel.Name
	}
	if conv.ContactID != nil {
		ct, err := tx.Ent.Contact.Get(ctx, *conv.ContactID)
		if err != nil && !ent.IsNotFound(err) {
			return "", err
		}
		if ct != nil {
			vals["contact.name"] = ct.Name
			if f := strings.Fields(ct.Name); len(f) > 0 {
				vals["contact.first_name"] = f[0]
			}
		}
	}
	v := tenant.FromContext(ctx)
	if ws, err := tx.Ent.Workspace.Get(ctx, pulid.ID(v.WorkspaceID)); err == nil {
		vals["workspace.name"] = ws.Name
	}
	if v.UserID != "" {
		if u, err := tx.Ent.User.Query().Where(user.ID(pulid.ID(v.UserID))).Only(ctx); err == nil {
			vals["agent.name"] = u.Name
		}
	}
	return variablePattern.ReplaceAllStringFunc(c.Text, func(m string) string {
		return vals[variablePattern.FindStringSubmatch(m)[1]]
	}), nil
}
