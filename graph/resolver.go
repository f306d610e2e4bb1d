package graph

import (
	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/onboarding"
	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/team"
	"github.com/neksio/neksio/graph/model"
)

// Deps are the services resolvers call.
type Deps struct {
	Store    *store.Store
	Auth     *auth.Service
	Inbox    *inbox.Service
	Channels *channel.Service
	// Team serves members and invitations (schema/team.graphqls).
	Team *team.Service
	// Onboarding connects accounts through the platforms' OAuth
	// (schema/onboarding.graphqls).
	Onboarding *onboarding.Service
	// Knowledge and Agent serve the knowledge base and the AI agent
	// (schema/agent.graphqls); set by cmd/neksio/wire_agent.go.
	Knowledge *knowledge.Service
	Agent     *agent.Service
	// Publish and Media serve publishing (schema/publish.graphqls); set by
	// cmd/neksio/wire_publish.go.
	Publish *publish.Service
	Media   *media.Service
	// Privacy serves exports, erasure and workspace deletion
	// (schema/privacy.graphqls); set by cmd/neksio/wire_privacy.go.
	Privacy *privacy.Service
	// Analytics serves schema/analytics.graphqls; set by
	// cmd/neksio/wire_analytics.go.
	Analytics *analytics.Service
	// Connectors lists the running connector plugins.
	Connectors func() []*model.ConnectorInfo
	// Realtime configures subscriptions and their transports (WebSocket,
	// SSE); zero values take defaults.
	Realtime RealtimeOptions
}

// Resolver is the root resolver. Resolvers stay thin: they call ent for
// reads (privacy policies scope them to the viewer's workspace) and core
// services for everything with rules.
type Resolver struct {
	// hub feeds subscriptions from the event bus: one re-read of a
	// changed object per workspace and event, not one per subscriber.
	hub  *hub
	deps Deps
}
