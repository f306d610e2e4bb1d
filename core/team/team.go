// Package team is the human side of a workspace: people become members by
// the operator's CLI or by accepting an invitation, admins change their
// roles and remove them. Signing in and sessions live in core/auth; this
// package decides who belongs where.
//
// Every change is audited in its transaction. A role change or removal
// takes effect at once: the member's cached viewers are dropped on this
// replica (within auth.CacheTTL on others), a removal revokes the
// person's sessions, and a MemberUpdated event makes their open
// WebSockets and SSE streams re-check their access (graph closes them with
// 4403).
package team

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/invite"
	"github.com/neksio/neksio/ent/membership"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/user"
)

// InviteTTL is how long an invitation can be accepted.
const InviteTTL = 7 * 24 * time.Hour

// inviteMarker starts invitation tokens (API keys: "nks_", sessions:
// "nksess_").
const inviteMarker = "nksinv_"

// MaxNameChars bounds a person's display name.
const MaxNameChars = 200

// ErrBadInvite is the one answer to an unknown, expired, revoked or used
// invitation token: they are not told apart.
var ErrBadInvite = apperr.Invalid("token", "the invitation is invalid, expired or already used")

// Service manages members and invitations.
type Service struct {
	Store *store.Store
	Auth  *auth.Service
	Now   func() time.Time
	// InviteBaseURL is the page invite links point to; the token is added
	// as its "token" query parameter.
	InviteBaseURL string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Member is a person in the viewer's workspace.
type Member struct {
	User       *ent.User
	Membership *ent.Membership
}

func platform(ctx context.Context, reason string) context.Context {
	return tenant.NewContext(ctx, tenant.PlatformViewer(reason))
}

// CreateUser is the operator's `neksio user create`: it creates the person
// (or finds them by email) and makes them a member of workspaceID with
// role. password is called only for a new person: an existing one keeps
// theirs.
func (s *Service) CreateUser(ctx context.Context, email, workspaceID string, role tenant.Role, password func() (string, error)) (*ent.User, bool, error) {
	norm, err := auth.NormalizeEmail(email)
	if err != nil {
		return nil, false, err
	}
	if !role.Valid() {
		return nil, false, apperr.Invalid("role", "unknown role %q", role)
	}
	pctx := platform(ctx, "operator: user create")
	if _, err := s.Store.Ent.Workspace.Get(pctx, pulid.ID(workspaceID)); err != nil {
		if ent.IsNotFound(err) {
			return nil, false, apperr.NotFound("workspace")
		}
		return nil, false, err
	}
	u, err := s.Store.Ent.User.Query().Where(user.Email(norm)).Only(pctx)
	created := false
	var hash string
	switch {
	case ent.IsNotFound(err):
		pw, err := password()
		if err != nil {
			return nil, false, err
		}
		if err := auth.CheckPassword(pw); err != nil {
			return nil, false, err
		}
		if hash, err = auth.HashPassword(pw); err != nil {
			return nil, false, err
		}
		created = true
	case err != nil:
		return nil, false, err
	}
	err = s.Store.InTx(pctx, func(tx *store.Tx) error {
		if created {
			u, err = tx.Ent.User.Create().SetEmail(norm).SetPasswordHash(hash).Save(pctx)
			if err != nil {
				return fmt.Errorf("team: creating user: %w", err)
			}
		}
		wctx := tenant.NewContext(ctx, tenant.System(workspaceID, "operator"))
		exists, err := tx.Ent.Membership.Query().Where(membership.UserID(u.ID)).Exist(wctx)
		if err != nil {
			return err
		}
		if exists {
			return apperr.New(apperr.CodeConflict, "%s is already a member of this workspace", norm)
		}
		m, err := tx.Ent.Membership.Create().SetWorkspaceID(pulid.ID(workspaceID)).SetUserID(u.ID).
			SetRole(membership.Role(role)).Save(wctx)
		if err != nil {
			return fmt.Errorf("team: adding member: %w", err)
		}
		return audit.Record(wctx, tx.Ent, "member.add", "Membership", string(m.ID),
			map[string]string{"user": string(u.ID), "role": string(role)})
	})
	if err != nil {
		return nil, false, err
	}
	return u, created, nil
}

// Members lists the viewer's workspace's members, oldest first.
func (s *Service) Members(ctx context.Context) ([]Member, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAnalyst); err != nil {
		return nil, err
	}
	ms, err := s.Store.Ent.Membership.Query().WithUser().
		Order(ent.Asc(membership.FieldCreatedAt), ent.Asc(membership.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{User: m.Edges.User, Membership: m})
	}
	return out, nil
}

// Member returns the member with user ID id in the viewer's workspace,
// NOT_FOUND for anyone else.
func (s *Service) Member(ctx context.Context, id pulid.ID) (Member, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAnalyst); err != nil {
		return Member{}, err
	}
	return s.member(ctx, s.Store.Ent, id)
}

func (s *Service) member(ctx context.Context, c *ent.Client, id pulid.ID) (Member, error) {
	m, err := c.Membership.Query().Where(membership.UserID(id)).WithUser().Only(ctx)
	if ent.IsNotFound(err) {
		return Member{}, apperr.NotFound("member")
	}
	if err != nil {
		return Member{}, err
	}
	return Member{User: m.Edges.User, Membership: m}, nil
}

// Invite creates an invitation to the viewer's workspace and returns its
// URL, which carries the one-time token: shown this once, stored hashed.
// Admins invite; nobody invites with a role above their own.
func (s *Service) Invite(ctx context.Context, email string, role tenant.Role) (string, *ent.Invite, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return "", nil, err
	}
	norm, err := auth.NormalizeEmail(email)
	if err != nil {
		return "", nil, err
	}
	if !role.Valid() {
		return "", nil, apperr.Invalid("role", "unknown role %q", role)
	}
	if !v.Role.AtLeast(role) {
		return "", nil, apperr.Forbidden("cannot invite with role %s as %s", role, v.Role)
	}
	token, hash, err := newInviteToken()
	if err != nil {
		return "", nil, err
	}
	link, err := s.inviteURL(token)
	if err != nil {
		return "", nil, err
	}
	var inv *ent.Invite
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		// The user policy shows only this workspace's members.
		member, err := tx.Ent.User.Query().Where(user.Email(norm)).Exist(ctx)
		if err != nil {
			return err
		}
		if member {
			return apperr.New(apperr.CodeConflict, "%s is already a member of this workspace", norm)
		}
		inv, err = tx.Ent.Invite.Create().
			SetEmail(norm).
			SetRole(invite.Role(role)).
			SetHash(hash).
			SetExpiresAt(s.now().Add(InviteTTL)).
			SetInvitedBy(v.Actor()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("team: creating invite: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "invite.create", "Invite", string(inv.ID),
			map[string]string{"email": norm, "role": string(role)})
	})
	if err != nil {
		return "", nil, err
	}
	return link, inv, nil
}

func newInviteToken() (token, hash string, err error) {
	tok, _, err := auth.NewSessionToken()
	if err != nil {
		return "", "", err
	}
	// Same 32 random bytes and encoding as a session token, its own marker.
	token = inviteMarker + strings.TrimPrefix(tok, "nksess_")
	return token, auth.HashKey(token), nil
}

func (s *Service) inviteURL(token string) (string, error) {
	base := s.InviteBaseURL
	if base == "" {
		base = "http://127.0.0.1:8080/invite"
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("team: invite base URL: %w", err)
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// RevokeInvite withdraws an invitation that was not accepted yet.
func (s *Service) RevokeInvite(ctx context.Context, id pulid.ID) (*ent.Invite, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	var out *ent.Invite
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		inv, err := tx.Ent.Invite.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.NotFound("invite")
		}
		if err != nil {
			return err
		}
		if inv.AcceptedAt != nil {
			return apperr.New(apperr.CodeConflict, "the invitation was already accepted")
		}
		if inv.RevokedAt != nil {
			out = inv
			return nil
		}
		if out, err = inv.Update().SetRevokedAt(s.now()).Save(ctx); err != nil {
			return fmt.Errorf("team: revoking invite: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "invite.revoke", "Invite", string(id), map[string]string{"email": inv.Email})
	})
	return out, err
}

// Accepted is the result of accepting an invitation: the member's new
// session and the workspace they joined.
type Accepted struct {
	*auth.SignedIn
	Workspace *ent.Workspace
}

// AcceptInvite redeems an invitation token without a credential: it
// creates the person (name, password) or, if the invitation's email
// already has an account, checks that account's password and adds the
// membership. It signs them in. The token works once; a wrong password for
// an existing account leaves it unused.
func (s *Service) AcceptInvite(ctx context.Context, token, name, password string) (*Accepted, error) {
	c := auth.ClientFrom(ctx)
	if !s.Auth.Throttle.Allow("", c.IP) {
		return nil, auth.ErrThrottled
	}
	if !strings.HasPrefix(token, inviteMarker) || len(token) != len(inviteMarker)+43 {
		return nil, ErrBadInvite
	}
	name = strings.TrimSpace(name)
	if len([]rune(name)) > MaxNameChars {
		return nil, apperr.Invalid("name", "the name is longer than %d characters", MaxNameChars)
	}
	hash := auth.HashKey(token)
	pctx := platform(ctx, "accept invite")
	inv, err := s.Store.Ent.Invite.Query().Where(invite.Hash(hash)).Only(pctx)
	if ent.IsNotFound(err) {
		return nil, ErrBadInvite
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if subtle.ConstantTimeCompare([]byte(inv.Hash), []byte(hash)) != 1 ||
		inv.AcceptedAt != nil || inv.RevokedAt != nil || !now.Before(inv.ExpiresAt) {
		return nil, ErrBadInvite
	}
	// The password is checked or hashed before the transaction: argon2id
	// takes a while, and SQLite would hold its write lock meanwhile.
	u, err := s.Store.Ent.User.Query().Where(user.Email(inv.Email)).Only(pctx)
	var pwHash string
	switch {
	case ent.IsNotFound(err):
		u = nil
		if err := auth.CheckPassword(password); err != nil {
			return nil, err
		}
		if pwHash, err = auth.HashPassword(password); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if u.PasswordHash == "" || !auth.VerifyPassword(u.PasswordHash, password) {
			return nil, auth.ErrBadCredentials
		}
	}
	ws := string(inv.WorkspaceID)
	var out Accepted
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		// Conditional on still being open, so two acceptances racing
		// redeem it once.
		n, err := tx.Ent.Invite.Update().
			Where(invite.ID(inv.ID), invite.AcceptedAtIsNil(), invite.RevokedAtIsNil()).
			SetAcceptedAt(now).Save(pctx)
		if err != nil {
			return fmt.Errorf("team: redeeming invite: %w", err)
		}
		if n == 0 {
			return ErrBadInvite
		}
		if u == nil {
			u, err = tx.Ent.User.Create().SetEmail(inv.Email).SetName(name).SetPasswordHash(pwHash).Save(pctx)
			if err != nil {
				return fmt.Errorf("team: creating user: %w", err)
			}
		}
		if err := tx.Ent.Invite.UpdateOneID(inv.ID).SetAcceptedBy(u.ID).Exec(pctx); err != nil {
			return fmt.Errorf("team: redeeming invite: %w", err)
		}
		sys := tenant.NewContext(ctx, tenant.System(ws, "accept invite"))
		exists, err := tx.Ent.Membership.Query().Where(membership.UserID(u.ID)).Exist(sys)
		if err != nil {
			return err
		}
		if exists {
			return apperr.New(apperr.CodeConflict, "you are already a member of this workspace")
		}
		m, err := tx.Ent.Membership.Create().SetUserID(u.ID).SetRole(membership.Role(inv.Role)).Save(sys)
		if err != nil {
			return fmt.Errorf("team: adding member: %w", err)
		}
		if out.Workspace, err = tx.Ent.Workspace.Get(sys, inv.WorkspaceID); err != nil {
			return err
		}
		return audit.RecordFor(ctx, tx.Ent, ws, "user:"+string(u.ID), "invite.accept", "Membership", string(m.ID),
			map[string]string{"invite": string(inv.ID), "role": string(inv.Role)})
	})
	if err != nil {
		return nil, err
	}
	signed, err := s.Auth.OpenSession(ctx, u)
	if err != nil {
		return nil, err
	}
	out.SignedIn = signed
	return &out, nil
}

// UpdateMember changes a member's role. Admins do; nobody changes the
// role of someone above them or grants a role above their own, and the
// workspace's last owner cannot be demoted.
func (s *Service) UpdateMember(ctx context.Context, id pulid.ID, role tenant.Role) (Member, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return Member{}, err
	}
	if !role.Valid() {
		return Member{}, apperr.Invalid("role", "unknown role %q", role)
	}
	var out Member
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		m, err := s.member(ctx, tx.Ent, id)
		if err != nil {
			return err
		}
		old := tenant.Role(m.Membership.Role)
		if !v.Role.AtLeast(old) || !v.Role.AtLeast(role) {
			return apperr.Forbidden("cannot change a member's role from %s to %s as %s", old, role, v.Role)
		}
		if old == role {
			out = m
			return nil
		}
		if old == tenant.RoleOwner {
			if err := s.keepAnOwner(ctx, tx, v.WorkspaceID); err != nil {
				return err
			}
		}
		if m.Membership, err = m.Membership.Update().SetRole(membership.Role(role)).Save(ctx); err != nil {
			return fmt.Errorf("team: changing role: %w", err)
		}
		out = m
		s.changed(tx, v.WorkspaceID, id)
		return audit.Record(ctx, tx.Ent, "member.role", "Membership", string(m.Membership.ID),
			map[string]string{"user": string(id), "from": string(old), "to": string(role)})
	})
	return out, err
}

// RemoveMember removes a member from the viewer's workspace: admins
// remove anyone not above them, anyone may leave. The last owner cannot
// be removed. The person's sessions end at once (they sign in again to
// reach their other workspaces), and their conversations here are
// unassigned.
func (s *Service) RemoveMember(ctx context.Context, id pulid.ID) (Member, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return Member{}, err
	}
	self := v.UserID != "" && v.UserID == string(id)
	if !self && !v.Role.AtLeast(tenant.RoleAdmin) {
		return Member{}, apperr.Forbidden("role ADMIN required to remove a member, viewer has %s", v.Role)
	}
	var out Member
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		// Members may leave whatever their role: the write runs as the
		// workspace's system viewer once the rules above have passed.
		sys := tenant.NewContext(ctx, tenant.System(v.WorkspaceID, "remove member"))
		m, err := s.member(ctx, tx.Ent, id)
		if err != nil {
			return err
		}
		role := tenant.Role(m.Membership.Role)
		if !self && !v.Role.AtLeast(role) {
			return apperr.Forbidden("cannot remove a member with role %s as %s", role, v.Role)
		}
		if role == tenant.RoleOwner {
			if err := s.keepAnOwner(ctx, tx, v.WorkspaceID); err != nil {
				return err
			}
		}
		if err := tx.Ent.Membership.DeleteOneID(m.Membership.ID).Exec(sys); err != nil {
			return fmt.Errorf("team: removing member: %w", err)
		}
		if err := s.unassign(sys, tx, v.WorkspaceID, id); err != nil {
			return err
		}
		if err := s.Auth.RevokeUserSessionsTx(ctx, tx, id); err != nil {
			return err
		}
		out = m
		s.changed(tx, v.WorkspaceID, id)
		return audit.RecordFor(ctx, tx.Ent, v.WorkspaceID, v.Actor(), "member.remove", "Membership", string(m.Membership.ID),
			map[string]string{"user": string(id), "role": string(role)})
	})
	return out, err
}

// keepAnOwner refuses to take away the workspace's last owner credential
// (owner members and owner API keys count alike).
func (s *Service) keepAnOwner(ctx context.Context, tx *store.Tx, ws string) error {
	n, err := s.Auth.OwnerCredentials(tenant.NewContext(ctx, tenant.System(ws, "owner count")), tx, pulid.ID(ws))
	if err != nil {
		return err
	}
	if n <= 1 {
		return apperr.New(apperr.CodeConflict, "the workspace's last owner cannot be removed or demoted: make another member owner first")
	}
	return nil
}

// unassign hands a removed member's open conversations back to the queue.
func (s *Service) unassign(ctx context.Context, tx *store.Tx, ws string, userID pulid.ID) error {
	convs, err := tx.Ent.Conversation.Query().Where(conversation.AssigneeID(userID)).All(ctx)
	if err != nil {
		return fmt.Errorf("team: finding assigned conversations: %w", err)
	}
	for _, c := range convs {
		u := tx.Ent.Conversation.UpdateOneID(c.ID).ClearAssigneeID().ClearAssignedBy()
		if c.HandoffReason != "" {
			u.SetNeedsHuman(true)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("team: unassigning: %w", err)
		}
		tx.Emit(event.Event{Type: event.ConversationUpdated, WorkspaceID: ws, ObjectID: string(c.ID),
			ConversationID: string(c.ID), ChannelID: string(c.ChannelID)})
	}
	return nil
}

// changed drops the member's cached viewers once the change commits and
// tells their open connections (on every replica) to re-check.
func (s *Service) changed(tx *store.Tx, ws string, userID pulid.ID) {
	tx.AfterCommit(func() { s.Auth.InvalidateUser(string(userID)) })
	tx.Emit(event.Event{Type: event.MemberUpdated, WorkspaceID: ws, ObjectID: string(userID)})
}
