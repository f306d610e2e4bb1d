package privacy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// DeleteWorkspace starts the deletion of the viewer's workspace (owners
// only, confirmName must be its name): channels are disconnected (tokens
// revoked at the platforms), API keys revoked and members' sessions ended
// at once; the purge follows after the grace period unless
// RestoreWorkspace comes first.
func (s *Service) DeleteWorkspace(ctx context.Context, confirmName string) (*ent.Workspace, error) {
	v, err := tenant.Require(ctx, tenant.RoleOwner)
	if err != nil {
		return nil, err
	}
	ws := pulid.ID(v.WorkspaceID)
	w, err := s.Store.Ent.Workspace.Get(ctx, ws)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(confirmName) != w.Name {
		return nil, apperr.Invalid("confirmName", "confirmName must be the workspace's name, exactly")
	}
	if w.DeletionRequestedAt != nil {
		return w, nil
	}
	chans, err := s.Store.Ent.Channel.Query().Where(entchannel.StatusNEQ(entchannel.StatusDisconnected)).IDs(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range chans {
		if _, err := s.Channels.Disconnect(ctx, id); err != nil {
			return nil, fmt.Errorf("privacy: disconnecting channel %s: %w", id, err)
		}
	}
	now := s.now()
	purgeAt := now.Add(s.grace())
	var out *ent.Workspace
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		keys, err := s.revokeKeys(ctx, tx, ws)
		if err != nil {
			return err
		}
		users, err := tx.Ent.Membership.Query().Where(membership.WorkspaceID(ws)).Select(membership.FieldUserID).Strings(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := s.Sessions.RevokeUserSessionsTx(ctx, tx, pulid.ID(u)); err != nil {
				return err
			}
		}
		out, err = tx.Ent.Workspace.UpdateOneID(ws).SetDeletionRequestedAt(now).SetPurgeAfter(purgeAt).Save(ctx)
		if err != nil {
			return fmt.Errorf("privacy: marking workspace: %w", err)
		}
		if err := tx.InsertJob(ctx, jobargs.WorkspacePurge{WorkspaceID: string(ws)}, &river.InsertOpts{ScheduledAt: purgeAt}); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Ent, "workspace.delete", "Workspace", string(ws), map[string]string{
			"purge_after": purgeAt.UTC().Format("2006-01-02T15:04:05Z"), "channels": strconv.Itoa(len(chans)),
			"keys": strconv.Itoa(keys), "members": strconv.Itoa(len(users))})
	})
	return out, err
}

func (s *Service) revokeKeys(ctx context.Context, tx *store.Tx, ws pulid.ID) (int, error) {
	if r, ok := s.Sessions.(interface {
		RevokeWorkspaceKeysTx(context.Context, *store.Tx, pulid.ID) (int, error)
	}); ok {
		return r.RevokeWorkspaceKeysTx(ctx, tx, ws)
	}
	return 0, fmt.Errorf("privacy: no key revoker")
}

// RestoreWorkspace cancels a pending deletion before its grace period
// ends (owners only). Channels stay disconnected and keys revoked: they
// are reconnected and created again.
func (s *Service) RestoreWorkspace(ctx context.Context) (*ent.Workspace, error) {
	v, err := tenant.Require(ctx, tenant.RoleOwner)
	if err != nil {
		return nil, err
	}
	ws := pulid.ID(v.WorkspaceID)
	var out *ent.Workspace
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		w, err := tx.Ent.Workspace.Get(ctx, ws)
		if err != nil {
			return err
		}
		if w.DeletionRequestedAt == nil {
			return apperr.Invalid("workspace", "the workspace is not being deleted")
		}
		if w.PurgeAfter != nil && !s.now().Before(*w.PurgeAfter) {
			return apperr.New(apperr.CodeConflict, "the grace period has ended: the workspace is being purged")
		}
		out, err = tx.Ent.Workspace.UpdateOneID(ws).ClearDeletionRequestedAt().ClearPurgeAfter().Save(ctx)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Ent, "workspace.restore", "Workspace", string(ws), nil)
	})
	return out, err
}

// PurgeWorkspace removes everything of a workspace whose grace period has
// ended: every row of every table (people who belong to no other
// workspace with their sessions), its files and export archives, its
// vectors in every space, and River's jobs naming it. A restored
// workspace, or one not yet due, is left alone (false).
func (s *Service) PurgeWorkspace(ctx context.Context, ws string) (bool, error) {
	pctx := tenant.NewContext(ctx, tenant.PlatformViewer("workspace purge"))
	w, err := s.Store.Ent.Workspace.Get(pctx, pulid.ID(ws))
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if w.PurgeAfter == nil || s.now().Before(*w.PurgeAfter) {
		return false, nil
	}
	return true, s.purge(ctx, ws)
}

func (s *Service) purge(ctx context.Context, ws string) error {
	e := s.engine()
	spaces, err := s.spaces(ctx, s.Store.DB, ws)
	if err != nil {
		return err
	}
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		q := tx.SQL
		// People whose only workspace this is go with it.
		lonely, err := e.strings(ctx, q, `SELECT user_id FROM memberships WHERE workspace_id = `+e.d.ph(1)+
			` AND user_id NOT IN (SELECT user_id FROM memberships WHERE workspace_id <> `+e.d.ph(2)+`)`, ws, ws)
		if err != nil {
			return fmt.Errorf("privacy: listing members: %w", err)
		}
		for _, t := range e.g.order {
			var stmts []string
			var args [][]any
			switch t.Scope {
			case Tenant:
				stmts = append(stmts, "DELETE FROM "+quote(t.Name)+" WHERE workspace_id = "+e.d.ph(1))
				args = append(args, []any{ws})
			case Join:
				for _, fk := range t.ForeignKeys {
					if len(fk.Columns) == 1 && e.g.byName[fk.RefTable.Name].Scope == Tenant {
						stmts = append(stmts, "DELETE FROM "+quote(t.Name)+" WHERE "+quote(fk.Columns[0].Name)+
							" IN (SELECT id FROM "+quote(fk.RefTable.Name)+" WHERE workspace_id = "+e.d.ph(1)+")")
						args = append(args, []any{ws})
					}
				}
			case WorkspaceRoot:
				stmts = append(stmts, "DELETE FROM "+quote(t.Name)+" WHERE id = "+e.d.ph(1))
				args = append(args, []any{ws})
			case Members:
				col := "id"
				if t.has("user_id") {
					col = "user_id"
				}
				for _, part := range chunks(lonely) {
					stmts = append(stmts, "DELETE FROM "+quote(t.Name)+" WHERE "+e.d.in(quote(col), 1, len(part)))
					args = append(args, anys(part))
				}
			}
			for i, st := range stmts {
				if _, err := q.ExecContext(ctx, st, args[i]...); err != nil {
					return fmt.Errorf("privacy: purging %s: %w", t.Name, err)
				}
			}
		}
		_, err = e.scrubJobs(ctx, q, ws, nil, true)
		return err
	})
	if err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	if err := s.deletePrefix(bg, ws+"/"); err != nil {
		return err
	}
	if err := s.deletePrefix(bg, exportPrefix+ws+"/"); err != nil {
		return err
	}
	if s.LocalDir != "" {
		for _, d := range []string{filepath.Join(s.LocalDir, ws), filepath.Join(s.LocalDir, "exports", ws)} {
			if err := os.RemoveAll(d); err != nil {
				return fmt.Errorf("privacy: removing %s: %w", d, err)
			}
		}
	}
	if s.Vectors != nil {
		for _, sp := range spaces {
			if err := s.Vectors.DeleteWorkspace(bg, sp, ws); err != nil {
				return fmt.Errorf("privacy: deleting vectors of %s: %w", sp.Key(), err)
			}
		}
		// The embedded store also keeps a version row per workspace.
		if f, ok := s.Vectors.(interface {
			ForgetWorkspace(context.Context, string) error
		}); ok {
			if err := f.ForgetWorkspace(bg, ws); err != nil {
				return err
			}
		}
	}
	s.log().Info("workspace purged", "workspace", ws)
	return nil
}

// deletePrefix deletes every file under prefix in the bucket.
func (s *Service) deletePrefix(ctx context.Context, prefix string) error {
	if s.Bucket == nil {
		return nil
	}
	it := s.Bucket.List(&blobListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if isEOF(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("privacy: listing files: %w", err)
		}
		if obj.IsDir {
			continue
		}
		if err := s.Bucket.Delete(ctx, obj.Key); err != nil && !isNotFound(err) {
			return fmt.Errorf("privacy: deleting a file: %w", err)
		}
	}
}
