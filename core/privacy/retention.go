package privacy

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	nkworkspace "github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/auditlog"
	"github.com/neksio/neksio/ent/contact"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/workspace"
)

// MinAuditRetentionDays is the shortest audit retention a workspace may set.
const MinAuditRetentionDays = 365

// Retention is one workspace's retention settings, in days; zero keeps
// forever.
type Retention struct {
	MessageDays int
	AuditDays   int
}

// RetentionResult counts what one workspace's retention removed.
type RetentionResult struct {
	Conversations int
	Contacts      int
	AuditEntries  int
	Batches       int
}

// ApplyRetention purges the workspace's conversations whose last message
// is older than r.MessageDays (with everything an erasure removes), the
// contacts left with nothing, and audit entries older than r.AuditDays
// (never less than a year). Each batch of at most RetentionBatch
// conversations is its own short transaction, so ingest never waits long;
// it runs until nothing is left or ctx ends.
func (s *Service) ApplyRetention(ctx context.Context, ws string, r Retention) (*RetentionResult, error) {
	sys := tenant.NewContext(ctx, tenant.System(ws, "retention"))
	res := &RetentionResult{}
	now := s.now()
	if r.MessageDays > 0 {
		cutoff := now.AddDate(0, 0, -r.MessageDays)
		for ctx.Err() == nil {
			n, err := s.retentionBatch(sys, ws, cutoff, res)
			if err != nil {
				return res, err
			}
			if n == 0 {
				break
			}
		}
	}
	if r.AuditDays > 0 {
		days := max(r.AuditDays, MinAuditRetentionDays)
		cutoff := now.AddDate(0, 0, -days)
		for ctx.Err() == nil {
			var ids []pulid.ID
			err := s.Store.InTx(sys, func(tx *store.Tx) error {
				var err error
				ids, err = tx.Ent.AuditLog.Query().Where(auditlog.CreatedAtLT(cutoff)).Limit(RetentionBatch * 10).IDs(sys)
				if err != nil || len(ids) == 0 {
					return err
				}
				e := s.engine()
				strs := make([]string, len(ids))
				for i, id := range ids {
					strs[i] = string(id)
				}
				// Audit entries are immutable through ent; retention is
				// the one path that removes them.
				_, err = tx.SQL.ExecContext(sys, "DELETE FROM audit_logs WHERE workspace_id = "+e.d.ph(1)+" AND "+e.d.in("id", 2, len(strs)),
					append([]any{ws}, anys(strs)...)...)
				return err
			})
			if err != nil {
				return res, fmt.Errorf("privacy: audit retention: %w", err)
			}
			res.AuditEntries += len(ids)
			if len(ids) == 0 {
				break
			}
		}
	}
	return res, ctx.Err()
}

func (s *Service) retentionBatch(ctx context.Context, ws string, cutoff time.Time, res *RetentionResult) (int, error) {
	var n int
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		convs, err := tx.Ent.Conversation.Query().Where(conversation.LastMessageAtLT(cutoff)).
			Order(conversation.ByLastMessageAt()).Limit(RetentionBatch).IDs(ctx)
		if err != nil {
			return err
		}
		// Contacts left with no conversation once these go, and last
		// heard of before the cutoff.
		contacts, err := tx.Ent.Contact.Query().Where(contact.UpdatedAtLT(cutoff), contact.CreatedAtLT(cutoff),
			contact.Not(contact.HasConversationsWith(conversation.LastMessageAtGTE(cutoff)))).
			Limit(RetentionBatch).IDs(ctx)
		if err != nil {
			return err
		}
		if len(convs) == 0 && len(contacts) == 0 {
			return nil
		}
		seeds := rowset{}
		for _, id := range convs {
			seeds.add("conversations", string(id))
		}
		for _, id := range contacts {
			seeds.add("contacts", string(id))
		}
		if _, err := s.eraseSet(ctx, tx, ws, seeds); err != nil {
			return err
		}
		n = len(convs) + len(contacts)
		res.Conversations += len(convs)
		res.Contacts += len(contacts)
		res.Batches++
		return audit.Record(ctx, tx.Ent, "retention.purge", "Workspace", ws, map[string]string{
			"conversations": strconv.Itoa(len(convs)), "contacts": strconv.Itoa(len(contacts))})
	})
	if err != nil {
		return 0, fmt.Errorf("privacy: retention: %w", err)
	}
	return n, nil
}

// RetentionPolicy returns a workspace's retention settings.
type RetentionPolicy func(ctx context.Context, ws string) (Retention, error)

// Sweep is the periodic privacy pass: retention for every workspace that
// set it, expired export archives, and deleted workspaces whose grace
// period has ended.
func (s *Service) Sweep(ctx context.Context, policy RetentionPolicy) error {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("privacy sweep"))
	if _, err := s.ExpireExports(ctx); err != nil {
		return err
	}
	due, err := s.Store.Ent.Workspace.Query().Where(workspace.PurgeAfterLTE(s.now())).IDs(pctx)
	if err != nil {
		return err
	}
	for _, ws := range due {
		if _, err := s.PurgeWorkspace(ctx, string(ws)); err != nil {
			return err
		}
	}
	if policy == nil {
		return nil
	}
	all, err := s.Store.Ent.Workspace.Query().Where(workspace.DeletionRequestedAtIsNil()).IDs(pctx)
	if err != nil {
		return err
	}
	for _, ws := range all {
		r, err := policy(ctx, string(ws))
		if err != nil {
			return err
		}
		if r.MessageDays == 0 && r.AuditDays == 0 {
			continue
		}
		res, err := s.ApplyRetention(ctx, string(ws), r)
		if err != nil {
			return err
		}
		if res.Batches > 0 || res.AuditEntries > 0 {
			s.log().Info("retention", "workspace", ws, "conversations", res.Conversations, "contacts", res.Contacts,
				"audit_entries", res.AuditEntries)
		}
	}
	return nil
}

// SettingsPolicy reads retention from the workspace's settings
// (messageRetentionDays, auditRetentionDays; core/workspace).
func SettingsPolicy(s *store.Store) RetentionPolicy {
	return func(ctx context.Context, ws string) (Retention, error) {
		st, err := nkworkspace.Get(tenant.NewContext(ctx, tenant.System(ws, "retention")), s.Ent, ws)
		if err != nil {
			return Retention{}, err
		}
		r := Retention{AuditDays: st.AuditRetentionDays}
		if st.MessageRetentionDays != nil {
			r.MessageDays = *st.MessageRetentionDays
		}
		return r, nil
	}
}
