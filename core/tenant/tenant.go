// Package tenant carries who is asking — the viewer — through a request's
// context. Every tenant-scoped ent schema reads it in its privacy policy:
// without a viewer nothing is readable or writable, and with one only the
// viewer's workspace is.
//
// There are three kinds of viewer:
//   - a member (an API key or a user) of one workspace, with a role;
//   - a system viewer bound to one workspace, for workers acting on a job
//     of that workspace;
//   - the platform viewer, for the few host paths that must look across
//     workspaces by design (routing a webhook to the channel that owns its
//     account, authenticating an API key, the operator's CLI). It is never
//     given to code that acts on a request's behalf.
package tenant

import (
	"context"
	"fmt"
	"strings"

	"github.com/neksio/neksio/core/apperr"
)

// Role is a member's role in a workspace.
type Role string

const (
	RoleOwner   Role = "OWNER"
	RoleAdmin   Role = "ADMIN"
	RoleAgent   Role = "AGENT"
	RoleAnalyst Role = "ANALYST"
)

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleAgent:
		return 2
	case RoleAnalyst:
		return 1
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToUpper(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q (want owner, admin, agent or analyst)", s)
	}
	return r, nil
}

// Kind of viewer.
type Kind int

const (
	KindMember Kind = iota + 1
	KindSystem
	KindPlatform
)

// Credential says how a member viewer authenticated.
type Credential string

const (
	CredentialAPIKey  Credential = "API_KEY"
	CredentialSession Credential = "SESSION"
)

// Viewer is who is asking.
type Viewer struct {
	Kind        Kind
	WorkspaceID string
	Role        Role
	// APIKeyID or UserID identify the actor of a member viewer.
	APIKeyID string
	UserID   string
	// Credential and SessionID say how a member viewer signed in: an API
	// key, or a person's session. Privacy rules and role checks look at
	// WorkspaceID and Role only, so both work the same everywhere.
	Credential Credential
	SessionID  string
	// Reason names what a system or platform viewer is for, in logs and
	// audit entries.
	Reason string
}

// Actor names the viewer for audit logs.
func (v *Viewer) Actor() string {
	switch {
	case v == nil:
		return "anonymous"
	case v.APIKeyID != "":
		return "apikey:" + v.APIKeyID
	case v.UserID != "":
		return "user:" + v.UserID
	case v.Kind == KindSystem:
		return "system:" + v.Reason
	case v.Kind == KindPlatform:
		return "platform:" + v.Reason
	}
	return "unknown"
}

// Platform reports whether v may look across workspaces.
func (v *Viewer) Platform() bool { return v != nil && v.Kind == KindPlatform }

// Member returns a member viewer.
func Member(workspaceID string, role Role, apiKeyID, userID string) *Viewer {
	v := &Viewer{Kind: KindMember, WorkspaceID: workspaceID, Role: role, APIKeyID: apiKeyID, UserID: userID}
	if apiKeyID != "" {
		v.Credential = CredentialAPIKey
	}
	return v
}

// SessionMember returns the viewer of a person's session in a workspace.
func SessionMember(workspaceID string, role Role, userID, sessionID string) *Viewer {
	return &Viewer{Kind: KindMember, WorkspaceID: workspaceID, Role: role, UserID: userID,
		Credential: CredentialSession, SessionID: sessionID}
}

// System returns a viewer for background work on one workspace. It acts
// with the owner's rights inside that workspace only.
func System(workspaceID, reason string) *Viewer {
	return &Viewer{Kind: KindSystem, WorkspaceID: workspaceID, Role: RoleOwner, Reason: reason}
}

// PlatformViewer returns the cross-workspace viewer. See the package doc
// for where it may be used.
func PlatformViewer(reason string) *Viewer {
	return &Viewer{Kind: KindPlatform, Role: RoleOwner, Reason: reason}
}

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// Errors returned by Require: classified sentinels (apperr.CodeOf gives
// UNAUTHENTICATED and FORBIDDEN; graph/errors.go words them for clients).
// Compare them with errors.Is.
var (
	ErrUnauthenticated error = apperr.NewSentinel(apperr.CodeUnauthenticated, "unauthenticated")
	ErrForbidden       error = apperr.NewSentinel(apperr.CodeForbidden, "forbidden")
)

// Require returns the viewer of ctx when it has at least role min inside a
// workspace, ErrUnauthenticated without a viewer, ErrForbidden otherwise.
func Require(ctx context.Context, min Role) (*Viewer, error) {
	v := FromContext(ctx)
	if v == nil {
		return nil, ErrUnauthenticated
	}
	if v.WorkspaceID == "" && !v.Platform() {
		return nil, ErrForbidden
	}
	if !v.Role.AtLeast(min) {
		return nil, fmt.Errorf("%w: role %s required, viewer has %s", ErrForbidden, min, v.Role)
	}
	return v, nil
}
