// Package workspace creates workspaces, the tenants. Creating one is an
// operator action (CLI, first start), never an API call.
package workspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
)

// Create makes a workspace named name.
func Create(ctx context.Context, s *store.Store, name string) (*ent.Workspace, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, apperr.Invalid("name", "a workspace name is 1 to 200 characters")
	}
	ctx = tenant.NewContext(ctx, tenant.PlatformViewer("workspace.create"))
	ws, err := s.Ent.Workspace.Create().SetName(name).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("workspace: creating: %w", err)
	}
	return ws, nil
}

// Count returns how many workspaces exist (first start detection).
func Count(ctx context.Context, s *store.Store) (int, error) {
	ctx = tenant.NewContext(ctx, tenant.PlatformViewer("workspace.count"))
	return s.Ent.Workspace.Query().Count(ctx)
}
