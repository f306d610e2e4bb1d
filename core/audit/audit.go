// Package audit records what people do: who did what to which object,
// when, in which request. Every GraphQL mutation writes an entry (a test
// walks the schema to keep it so). Entries are written in the same
// transaction as the action, so an action that rolls back leaves no entry
// and one that commits always has it. Entries name objects by ID and hold
// settings' values, never message text, file contents or secrets.
package audit

import (
	"context"
	"fmt"

	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
)

// Record writes an audit entry with client (bound to the action's
// transaction). meta must hold no secrets.
func Record(ctx context.Context, client *ent.Client, action, targetType, targetID string, meta map[string]string) error {
	v := tenant.FromContext(ctx)
	if v == nil || v.WorkspaceID == "" {
		return fmt.Errorf("audit: no workspace viewer for %s", action)
	}
	err := client.AuditLog.Create().
		SetWorkspaceID(pulid.ID(v.WorkspaceID)).
		SetActor(v.Actor()).
		SetAction(action).
		SetTargetType(targetType).
		SetTargetID(targetID).
		SetRequestID(RequestID(ctx)).
		SetMetadata(meta).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("audit: recording %s: %w", action, err)
	}
	return nil
}

// RecordFor writes an audit entry for actor in workspace ws, for actions
// whose actor may not write rows itself (an analyst leaving a workspace,
// a person accepting an invitation before they have a role). meta must
// hold no secrets.
func RecordFor(ctx context.Context, client *ent.Client, ws, actor, action, targetType, targetID string, meta map[string]string) error {
	sys := tenant.NewContext(ctx, tenant.System(ws, "audit"))
	err := client.AuditLog.Create().
		SetWorkspaceID(pulid.ID(ws)).
		SetActor(actor).
		SetAction(action).
		SetTargetType(targetType).
		SetTargetID(targetID).
		SetRequestID(RequestID(ctx)).
		SetMetadata(meta).
		Exec(sys)
	if err != nil {
		return fmt.Errorf("audit: recording %s: %w", action, err)
	}
	return nil
}
