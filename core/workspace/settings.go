package workspace

import (
	"context"
	"fmt"
	"strconv"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
	entworkspace "github.com/neksio/neksio/ent/workspace"
)

// AIProcessing says where a workspace's data may be processed by AI.
type AIProcessing string

const (
	// AIBuiltinOnly keeps every AI call on the built-in offline provider,
	// even when an external provider is configured. The default.
	AIBuiltinOnly AIProcessing = "BUILTIN_ONLY"
	// AIExternalAllowed lets the configured external provider (if any)
	// see the workspace's data.
	AIExternalAllowed AIProcessing = "EXTERNAL_ALLOWED"
)

// Valid reports whether p is a known value.
func (p AIProcessing) Valid() bool { return p == AIBuiltinOnly || p == AIExternalAllowed }

// MinAuditRetentionDays is the shortest audit retention a workspace may
// choose (and the default).
const MinAuditRetentionDays = 365

// MaxRetentionDays bounds both retentions (100 years) so that a date
// computed from them cannot overflow.
const MaxRetentionDays = 36500

// Settings are a workspace's privacy settings.
type Settings struct {
	// MessageRetentionDays: conversations whose last message is older are
	// purged; nil keeps them forever.
	MessageRetentionDays *int
	// AuditRetentionDays: audit entries older than this are purged (at
	// least MinAuditRetentionDays).
	AuditRetentionDays int
	AIProcessing       AIProcessing
}

// SettingsOf reads the settings held on w.
func SettingsOf(w *ent.Workspace) Settings {
	s := Settings{AuditRetentionDays: w.AuditRetentionDays, AIProcessing: AIProcessing(w.AiProcessing)}
	if w.MessageRetentionDays != nil {
		d := *w.MessageRetentionDays
		s.MessageRetentionDays = &d
	}
	return s
}

// Current returns the settings of the viewer's workspace (any member).
func Current(ctx context.Context, client *ent.Client) (Settings, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return Settings{}, err
	}
	return Get(ctx, client, v.WorkspaceID)
}

// Get returns the settings of workspace id, read with the viewer of ctx
// (a worker's system viewer bound to id, or a member of id). Another
// workspace's ID is NOT_FOUND.
func Get(ctx context.Context, client *ent.Client, id string) (Settings, error) {
	w, err := client.Workspace.Get(ctx, pulid.ID(id))
	if ent.IsNotFound(err) {
		return Settings{}, apperr.NotFound("workspace")
	}
	if err != nil {
		return Settings{}, fmt.Errorf("workspace: reading settings: %w", err)
	}
	return SettingsOf(w), nil
}

// SettingsUpdate changes the settings given; nil fields stay.
type SettingsUpdate struct {
	// SetMessageRetentionDays with a nil MessageRetentionDays keeps
	// conversations forever.
	SetMessageRetentionDays bool
	MessageRetentionDays    *int
	AuditRetentionDays      *int
	AIProcessing            *AIProcessing
}

// UpdateSettings changes the viewer's workspace settings (owners and
// admins). The audit entry names each changed setting with its old and
// new value: they are numbers and enums, never customer text.
func UpdateSettings(ctx context.Context, s *store.Store, in SettingsUpdate) (Settings, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return Settings{}, err
	}
	if in.SetMessageRetentionDays && in.MessageRetentionDays != nil {
		if d := *in.MessageRetentionDays; d < 1 || d > MaxRetentionDays {
			return Settings{}, apperr.Invalid("messageRetentionDays",
				"messageRetentionDays must be between 1 and %d (null keeps messages forever)", MaxRetentionDays)
		}
	}
	if in.AuditRetentionDays != nil {
		if d := *in.AuditRetentionDays; d < MinAuditRetentionDays || d > MaxRetentionDays {
			return Settings{}, apperr.Invalid("auditRetentionDays",
				"auditRetentionDays must be between %d and %d", MinAuditRetentionDays, MaxRetentionDays)
		}
	}
	if in.AIProcessing != nil && !in.AIProcessing.Valid() {
		return Settings{}, apperr.Invalid("aiProcessing", "aiProcessing must be BUILTIN_ONLY or EXTERNAL_ALLOWED")
	}
	var out Settings
	err = s.InTx(ctx, func(tx *store.Tx) error {
		// Two admins changing settings at once each audit the old value
		// the other left.
		if err := tx.Lock(ctx, "workspace.settings:"+v.WorkspaceID); err != nil {
			return err
		}
		w, err := tx.Ent.Workspace.Get(ctx, pulid.ID(v.WorkspaceID))
		if err != nil {
			return fmt.Errorf("workspace: reading settings: %w", err)
		}
		old := SettingsOf(w)
		changed := map[string]string{}
		u := tx.Ent.Workspace.UpdateOneID(w.ID)
		if in.SetMessageRetentionDays && !sameDays(old.MessageRetentionDays, in.MessageRetentionDays) {
			if in.MessageRetentionDays == nil {
				u.ClearMessageRetentionDays()
			} else {
				u.SetMessageRetentionDays(*in.MessageRetentionDays)
			}
			change(changed, "messageRetentionDays", days(old.MessageRetentionDays), days(in.MessageRetentionDays))
		}
		if in.AuditRetentionDays != nil && *in.AuditRetentionDays != old.AuditRetentionDays {
			u.SetAuditRetentionDays(*in.AuditRetentionDays)
			change(changed, "auditRetentionDays", strconv.Itoa(old.AuditRetentionDays), strconv.Itoa(*in.AuditRetentionDays))
		}
		if in.AIProcessing != nil && *in.AIProcessing != old.AIProcessing {
			u.SetAiProcessing(entworkspace.AiProcessing(*in.AIProcessing))
			change(changed, "aiProcessing", string(old.AIProcessing), string(*in.AIProcessing))
		}
		if len(changed) > 0 {
			if w, err = u.Save(ctx); err != nil {
				return fmt.Errorf("workspace: updating settings: %w", err)
			}
		}
		out = SettingsOf(w)
		return audit.Record(ctx, tx.Ent, "workspace.settings.update", "Workspace", v.WorkspaceID, changed)
	})
	if err != nil {
		return Settings{}, err
	}
	return out, nil
}

func sameDays(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// days renders a retention for the audit entry: "forever" for none.
func days(d *int) string {
	if d == nil {
		return "forever"
	}
	return strconv.Itoa(*d)
}

func change(m map[string]string, name, old, new string) {
	m[name+".old"] = old
	m[name+".new"] = new
}
