package main

import (
	"cmp"
	"context"
	"net/http"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/jobs"
)

// Publishing: the media store, posts, approval and the publishing jobs
// (docs/publishing.md). It runs after the agent's wiring, whose
// knowledge base and provider it uses for generatePost.
func wirePublish(_ context.Context, a *App) error {
	key, err := a.Channels.Box.DeriveKey("neksio media url signing v1")
	if err != nil {
		return err
	}
	ttl := cmp.Or(a.Cfg.Media.URLTTL, media.DefaultURLTTL)
	ms := &media.Service{
		Ent:       func(context.Context) *ent.Client { return a.Store.Ent },
		Bucket:    a.Bucket,
		SignKey:   key,
		PublicURL: a.Cfg.PublicURL,
		URLTTL:    ttl,
		Log:       a.Log.With("component", "media"),
	}
	var provider ai.Provider
	if a.GraphDeps.Agent != nil {
		provider = a.GraphDeps.Agent.Provider
	}
	ps := &publish.Service{Store: a.Store, Connectors: a.Connectors, Channels: a.Channels, Media: ms,
		Knowledge: a.GraphDeps.Knowledge, Provider: provider, Log: a.Log.With("component", "publish")}
	if a.Cfg.PublicURL != "" && !ms.PublicHost() {
		a.Log.Warn("NEKSIO_PUBLIC_URL is not a public host: platforms cannot fetch uploaded media from it "+
			"(only connectors with allow_private_media_urls, i.e. emulators, may publish them)", "public_url", a.Cfg.PublicURL)
	}
	// The River client is built after the features are wired.
	a.OnStart = append(a.OnStart, func(context.Context) error { ps.Jobs = a.River; return nil })
	a.Inbox.OnPublish = ps.Hook()
	jobs.RegisterPublish(a.Workers, ps)
	a.GraphDeps.Publish = ps
	a.GraphDeps.Media = ms
	// Replies' attachments and customers' files (core/inbox/media.go).
	a.Inbox.Media = ms
	a.Inbox.MediaFetchMaxBytes = a.Cfg.Media.FetchMaxBytes // zero: the inbox's default
	a.Mounts = append(a.Mounts, func(mux *http.ServeMux) {
		mux.Handle("GET /media/{id}", ms)
	})
	return nil
}
