package main

import (
	"context"
	"strings"

	"github.com/neksio/neksio/core/team"
)

// wireTeam serves people, sessions, members and invitations.
func wireTeam(_ context.Context, a *App) error {
	a.Auth.Log = a.Log
	a.GraphDeps.Team = &team.Service{Store: a.Store, Auth: a.Auth, InviteBaseURL: inviteBaseURL(a)}
	return nil
}

// inviteBaseURL is the page invitation links point to:
// NEKSIO_INVITE_URL, else <NEKSIO_PUBLIC_URL>/invite, else the listen
// address's /invite.
func inviteBaseURL(a *App) string {
	if a.Cfg.InviteURL != "" {
		return a.Cfg.InviteURL
	}
	if a.Cfg.PublicURL != "" {
		return strings.TrimSuffix(a.Cfg.PublicURL, "/") + "/invite"
	}
	return "http://" + a.Cfg.Addr + "/invite"
}
