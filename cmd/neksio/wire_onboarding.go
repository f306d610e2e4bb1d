package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/neksio/neksio/core/onboarding"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/plugins/sdk"
)

// Connecting accounts with the platforms' OAuth (docs/onboarding.md).
func wireOnboarding(_ context.Context, a *App) error {
	key, err := a.Channels.Box.DeriveKey(onboarding.StateKeyPurpose)
	if err != nil {
		return err
	}
	svc := &onboarding.Service{Store: a.Store, Box: a.Channels.Box, Channels: a.Channels, Gateway: a.Connectors,
		Apps:      func(name string) sdk.App { return appSettings(a.Cfg.Environment(), name) },
		PublicURL: publicBaseURL(a), StateKey: key, Log: a.Log.With("component", "onboarding")}
	h := &onboarding.Handler{Service: svc, ReturnURL: a.Cfg.OAuthReturnURL}
	a.Mounts = append(a.Mounts, func(mux *http.ServeMux) { h.Register(mux) })
	a.PeriodicJobs = append(a.PeriodicJobs, jobs.RegisterOnboarding(a.Workers, svc))
	a.GraphDeps.Onboarding = svc
	return nil
}

// publicBaseURL is where platforms and browsers reach this server:
// NEKSIO_PUBLIC_URL, else the listen address.
func publicBaseURL(a *App) string {
	if a.Cfg.PublicURL != "" {
		return strings.TrimSuffix(a.Cfg.PublicURL, "/")
	}
	return "http://" + a.Cfg.Addr
}
