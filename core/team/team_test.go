package team_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/team"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/auditlog"
	"github.com/neksio/neksio/ent/conversation"
	"github.com/neksio/neksio/ent/invite"
	"github.com/neksio/neksio/ent/schema/pulid"
)

const pw = "correct horse battery staple"

type bundle struct {
	s    *store.Store
	auth *auth.Service
	team *team.Service
	now  time.Time
	ws   string
}

func newBundle(t *testing.T, d storetest.Dialect) *bundle {
	t.Helper()
	s := storetest.Open(t, d)
	b := &bundle{s: s, now: time.Now()}
	b.auth = &auth.Service{Store: s}
	b.team = &team.Service{Store: s, Auth: b.auth, Now: func() time.Time { return b.now }, InviteBaseURL: "https://app.example.com/invite"}
	ws, err := workspace.Create(context.Background(), s, "Acme")
	require.NoError(t, err)
	b.ws = string(ws.ID)
	return b
}

// user creates a member through the operator path and returns the
// viewer of their session.
func (b *bundle) user(t *testing.T, email string, role tenant.Role) (*ent.User, context.Context, string) {
	t.Helper()
	ctx := context.Background()
	u, created, err := b.team.CreateUser(ctx, email, b.ws, role, func() (string, error) { return pw, nil })
	require.NoError(t, err)
	require.True(t, created)
	in, err := b.auth.SignIn(ctx, email, pw)
	require.NoError(t, err)
	v, err := b.auth.AuthenticateBearer(ctx, in.Token, b.ws)
	require.NoError(t, err)
	return u, tenant.NewContext(ctx, v), in.Token
}

func (b *bundle) audited(t *testing.T, action string) int {
	t.Helper()
	n, err := b.s.Ent.AuditLog.Query().Where(auditlog.Action(action)).
		Count(tenant.NewContext(context.Background(), tenant.System(b.ws, "test")))
	require.NoError(t, err)
	return n
}

// code is the client-facing code of err (graph/errors.go maps tenant's
// role errors the same way).
func code(err error) apperr.Code {
	if errors.Is(err, tenant.ErrForbidden) {
		return apperr.CodeForbidden
	}
	return apperr.CodeOf(err)
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, "app.example.com", u.Host)
	return u.Query().Get("token")
}

func TestInvitations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		_, admin, _ := b.user(t, "admin@example.com", tenant.RoleAdmin)
		_, agent, _ := b.user(t, "agent@example.com", tenant.RoleAgent)
		ctx := context.Background()

		// Agents do not invite; admins not above their own role; bad emails.
		_, _, err := b.team.Invite(agent, "new@example.com", tenant.RoleAgent)
		require.Equal(t, apperr.CodeForbidden, code(err))
		_, _, err = b.team.Invite(admin, "new@example.com", tenant.RoleOwner)
		require.Equal(t, apperr.CodeForbidden, code(err))
		_, _, err = b.team.Invite(admin, "not an email", tenant.RoleAgent)
		require.Equal(t, apperr.CodeBadUserInput, code(err))
		_, _, err = b.team.Invite(admin, "Agent@Example.com", tenant.RoleAgent)
		require.Equal(t, apperr.CodeConflict, code(err), "already a member")

		link, inv, err := b.team.Invite(admin, "New@Example.com", tenant.RoleAgent)
		require.NoError(t, err)
		token := tokenOf(t, link)
		require.True(t, strings.HasPrefix(token, "nksinv_"))
		require.Equal(t, "new@example.com", inv.Email)
		require.Equal(t, auth.HashKey(token), inv.Hash)
		require.WithinDuration(t, b.now.Add(7*24*time.Hour), inv.ExpiresAt, time.Second)
		require.Equal(t, 1, b.audited(t, "invite.create"))

		// A short password is refused and leaves the invitation open.
		_, err = b.team.AcceptInvite(ctx, token, "New Person", "short")
		require.Equal(t, apperr.CodeBadUserInput, code(err))
		acc, err := b.team.AcceptInvite(ctx, token, "New Person", pw)
		require.NoError(t, err)
		require.Equal(t, "new@example.com", acc.User.Email)
		require.Equal(t, b.ws, string(acc.Workspace.ID))
		v, err := b.auth.AuthenticateBearer(ctx, acc.Token, "")
		require.NoError(t, err)
		require.Equal(t, tenant.RoleAgent, v.Role)
		require.Equal(t, 1, b.audited(t, "invite.accept"))

		// Reused, unknown and malformed tokens: one error, nothing changes.
		for _, tok := range []string{token, "nksinv_" + strings.Repeat("A", 43), "nks_x", ""} {
			_, err = b.team.AcceptInvite(ctx, tok, "Again", pw)
			require.ErrorIs(t, err, team.ErrBadInvite, tok)
		}
		// Expired.
		link, _, err = b.team.Invite(admin, "late@example.com", tenant.RoleAnalyst)
		require.NoError(t, err)
		b.now = b.now.Add(7*24*time.Hour + time.Minute)
		_, err = b.team.AcceptInvite(ctx, tokenOf(t, link), "Late", pw)
		require.ErrorIs(t, err, team.ErrBadInvite)
		b.now = time.Now()
		// Revoked.
		link, inv, err = b.team.Invite(admin, "gone@example.com", tenant.RoleAnalyst)
		require.NoError(t, err)
		_, err = b.team.RevokeInvite(admin, inv.ID)
		require.NoError(t, err)
		_, err = b.team.AcceptInvite(ctx, tokenOf(t, link), "Gone", pw)
		require.ErrorIs(t, err, team.ErrBadInvite)

		// An existing account joins a second workspace with its password;
		// a wrong one leaves the invitation unused.
		other, err := workspace.Create(ctx, b.s, "Other")
		require.NoError(t, err)
		oadmin := tenant.NewContext(ctx, tenant.Member(string(other.ID), tenant.RoleOwner, "key_x", ""))
		link, inv, err = b.team.Invite(oadmin, "agent@example.com", tenant.RoleAdmin)
		require.NoError(t, err)
		_, err = b.team.AcceptInvite(ctx, tokenOf(t, link), "", "wrong password!!")
		require.Equal(t, apperr.CodeUnauthenticated, code(err))
		got, err := b.s.Ent.Invite.Query().Where(invite.ID(inv.ID)).Only(tenant.NewContext(ctx, tenant.System(string(other.ID), "t")))
		require.NoError(t, err)
		require.Nil(t, got.AcceptedAt)
		acc, err = b.team.AcceptInvite(ctx, tokenOf(t, link), "", pw)
		require.NoError(t, err)
		ms, err := b.auth.Memberships(ctx, acc.User.ID)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		v, err = b.auth.AuthenticateBearer(ctx, acc.Token, string(other.ID))
		require.NoError(t, err)
		require.Equal(t, tenant.RoleAdmin, v.Role)
	})
}

func TestMemberRolesAndRemoval(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		owner, ownerCtx, _ := b.user(t, "owner@example.com", tenant.RoleOwner)
		admin, adminCtx, _ := b.user(t, "admin@example.com", tenant.RoleAdmin)
		agent, agentCtx, agentToken := b.user(t, "agent@example.com", tenant.RoleAgent)
		ctx := context.Background()

		ms, err := b.team.Members(agentCtx)
		require.NoError(t, err)
		require.Len(t, ms, 3)

		// Agents change no roles; admins none above their own.
		_, err = b.team.UpdateMember(agentCtx, agent.ID, tenant.RoleAdmin)
		require.Equal(t, apperr.CodeForbidden, code(err))
		_, err = b.team.UpdateMember(adminCtx, owner.ID, tenant.RoleAgent)
		require.Equal(t, apperr.CodeForbidden, code(err))
		_, err = b.team.UpdateMember(adminCtx, agent.ID, tenant.RoleOwner)
		require.Equal(t, apperr.CodeForbidden, code(err))
		_, err = b.team.RemoveMember(agentCtx, admin.ID)
		require.Equal(t, apperr.CodeForbidden, code(err))
		// The last owner can be neither demoted nor removed, even by themselves.
		_, err = b.team.UpdateMember(ownerCtx, owner.ID, tenant.RoleAdmin)
		require.Equal(t, apperr.CodeConflict, code(err))
		_, err = b.team.RemoveMember(ownerCtx, owner.ID)
		require.Equal(t, apperr.CodeConflict, code(err))
		// Another workspace's person is not found.
		_, err = b.team.UpdateMember(adminCtx, pulid.ID("usr_01JD3V0000000000000000000A"), tenant.RoleAgent)
		require.Equal(t, apperr.CodeNotFound, code(err))
		require.Equal(t, 0, b.audited(t, "member.role"))

		// A role change bites at once, cached viewer or not.
		m, err := b.team.UpdateMember(adminCtx, agent.ID, tenant.RoleAnalyst)
		require.NoError(t, err)
		require.Equal(t, "ANALYST", string(m.Membership.Role))
		v, err := b.auth.AuthenticateBearer(ctx, agentToken, "")
		require.NoError(t, err)
		require.Equal(t, tenant.RoleAnalyst, v.Role)
		require.Equal(t, 1, b.audited(t, "member.role"))

		// Removal: the sessions end, assigned conversations go back to the queue.
		sys := tenant.NewContext(ctx, tenant.System(b.ws, "test"))
		ch, err := b.s.Ent.Channel.Create().SetWorkspaceID(pulid.ID(b.ws)).SetConnector("x").SetPlatform("x").
			SetExternalID("1").SetName("c").Save(sys)
		require.NoError(t, err)
		conv, err := b.s.Ent.Conversation.Create().SetWorkspaceID(pulid.ID(b.ws)).SetChannelID(ch.ID).
			SetKind(conversation.KindDirectMessage).SetThreadID("t").SetAssigneeID(agent.ID).
			SetHandoffReason("asked for a human").Save(sys)
		require.NoError(t, err)
		_, err = b.team.RemoveMember(adminCtx, agent.ID)
		require.NoError(t, err)
		_, err = b.auth.AuthenticateBearer(ctx, agentToken, "")
		require.ErrorIs(t, err, auth.ErrInvalidSession)
		conv, err = b.s.Ent.Conversation.Get(sys, conv.ID)
		require.NoError(t, err)
		require.Nil(t, conv.AssigneeID)
		require.True(t, conv.NeedsHuman)
		require.Equal(t, 1, b.audited(t, "member.remove"))
		ms, err = b.team.Members(adminCtx)
		require.NoError(t, err)
		require.Len(t, ms, 2)

		// With a second owner, the first may step down.
		_, err = b.team.UpdateMember(ownerCtx, admin.ID, tenant.RoleOwner)
		require.NoError(t, err)
		_, err = b.team.UpdateMember(ownerCtx, owner.ID, tenant.RoleAdmin)
		require.NoError(t, err)
	})
}

// The operator's CLI path reuses an existing person by email.
func TestCreateUser(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		ctx := context.Background()
		u, created, err := b.team.CreateUser(ctx, "Ann@Example.com", b.ws, tenant.RoleOwner, func() (string, error) { return pw, nil })
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "ann@example.com", u.Email)
		other, err := workspace.Create(ctx, b.s, "Other")
		require.NoError(t, err)
		asked := false
		u2, created, err := b.team.CreateUser(ctx, "ann@example.com", string(other.ID), tenant.RoleAgent, func() (string, error) {
			asked = true
			return "", nil
		})
		require.NoError(t, err)
		require.False(t, created)
		require.False(t, asked, "an existing person keeps their password")
		require.Equal(t, u.ID, u2.ID)
		_, _, err = b.team.CreateUser(ctx, "ann@example.com", b.ws, tenant.RoleAgent, nil)
		require.Equal(t, apperr.CodeConflict, code(err))
		_, _, err = b.team.CreateUser(ctx, "bob@example.com", b.ws, tenant.RoleAgent, func() (string, error) { return "short", nil })
		require.Equal(t, apperr.CodeBadUserInput, code(err))
		_, _, err = b.team.CreateUser(ctx, "bob@example.com", "ws_01JD3V0000000000000000000A", tenant.RoleAgent, func() (string, error) { return pw, nil })
		require.Equal(t, apperr.CodeNotFound, code(err))
	})
}
