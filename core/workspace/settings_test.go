package workspace_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent/auditlog"
)

func ptr[T any](v T) *T { return &v }

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ctx := context.Background()
		s := storetest.Open(t, d)
		ws, err := workspace.Create(ctx, s, "Acme")
		require.NoError(t, err)
		other, err := workspace.Create(ctx, s, "Other")
		require.NoError(t, err)
		owner := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key1", ""))
		agentCtx := tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key2", ""))

		// Defaults: keep messages, a year of audit, built-in AI only.
		got, err := workspace.Current(agentCtx, s.Ent)
		require.NoError(t, err)
		require.Equal(t, workspace.Settings{AuditRetentionDays: 365, AIProcessing: workspace.AIBuiltinOnly}, got)

		// Another workspace's settings are not found.
		_, err = workspace.Get(owner, s.Ent, string(other.ID))
		require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))

		// Agents cannot change them.
		_, err = workspace.UpdateSettings(agentCtx, s, workspace.SettingsUpdate{AIProcessing: ptr(workspace.AIExternalAllowed)})
		require.True(t, errors.Is(err, tenant.ErrForbidden), "%v", err)

		for _, bad := range []struct {
			field string
			in    workspace.SettingsUpdate
		}{
			{"messageRetentionDays", workspace.SettingsUpdate{SetMessageRetentionDays: true, MessageRetentionDays: ptr(0)}},
			{"messageRetentionDays", workspace.SettingsUpdate{SetMessageRetentionDays: true, MessageRetentionDays: ptr(-3)}},
			{"auditRetentionDays", workspace.SettingsUpdate{AuditRetentionDays: ptr(364)}},
			{"auditRetentionDays", workspace.SettingsUpdate{AuditRetentionDays: ptr(workspace.MaxRetentionDays + 1)}},
			{"aiProcessing", workspace.SettingsUpdate{AIProcessing: ptr(workspace.AIProcessing("ANYWHERE"))}},
		} {
			_, err := workspace.UpdateSettings(owner, s, bad.in)
			var ae *apperr.Error
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Equal(t, apperr.CodeBadUserInput, ae.Code)
			require.Equal(t, bad.field, ae.Field)
		}
		n, err := s.Ent.AuditLog.Query().Count(owner)
		require.NoError(t, err)
		require.Zero(t, n, "refused changes leave no audit entry")

		got, err = workspace.UpdateSettings(owner, s, workspace.SettingsUpdate{
			SetMessageRetentionDays: true, MessageRetentionDays: ptr(30),
			AuditRetentionDays: ptr(400), AIProcessing: ptr(workspace.AIExternalAllowed)})
		require.NoError(t, err)
		require.Equal(t, workspace.Settings{MessageRetentionDays: ptr(30), AuditRetentionDays: 400, AIProcessing: workspace.AIExternalAllowed}, got)
		entry, err := s.Ent.AuditLog.Query().Where(auditlog.Action("workspace.settings.update")).Only(owner)
		require.NoError(t, err)
		require.Equal(t, "apikey:key1", entry.Actor)
		require.Equal(t, "Workspace", entry.TargetType)
		require.Equal(t, string(ws.ID), entry.TargetID)
		require.Equal(t, map[string]string{
			"messageRetentionDays.old": "forever", "messageRetentionDays.new": "30",
			"auditRetentionDays.old": "365", "auditRetentionDays.new": "400",
			"aiProcessing.old": "BUILTIN_ONLY", "aiProcessing.new": "EXTERNAL_ALLOWED",
		}, entry.Metadata)

		// Null keeps messages forever again; only what changed is recorded.
		got, err = workspace.UpdateSettings(owner, s, workspace.SettingsUpdate{SetMessageRetentionDays: true, AuditRetentionDays: ptr(400)})
		require.NoError(t, err)
		require.Nil(t, got.MessageRetentionDays)
		last, err := s.Ent.AuditLog.Query().Where(auditlog.Action("workspace.settings.update")).
			Order(auditlog.ByCreatedAt(), auditlog.ByID()).All(owner)
		require.NoError(t, err)
		require.Len(t, last, 2)
		require.Equal(t, map[string]string{"messageRetentionDays.old": "30", "messageRetentionDays.new": "forever"}, last[1].Metadata)

		// A worker bound to the workspace reads them (the retention job does).
		sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
		got, err = workspace.Get(sys, s.Ent, string(ws.ID))
		require.NoError(t, err)
		require.Equal(t, 400, got.AuditRetentionDays)
		require.Equal(t, workspace.AIExternalAllowed, got.AIProcessing)

		// The other workspace kept its defaults.
		otherOwner := tenant.NewContext(ctx, tenant.Member(string(other.ID), tenant.RoleOwner, "key3", ""))
		got, err = workspace.Current(otherOwner, s.Ent)
		require.NoError(t, err)
		require.Equal(t, workspace.AIBuiltinOnly, got.AIProcessing)
	})
}
