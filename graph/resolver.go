package graph

import (
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/graph/model"
)

// Deps are the services resolvers call.
type Deps struct {
	Store    *store.Store
	Auth     *auth.Service
	Inbox    *inbox.Service
	Channels *channel.Service
	// Connectors lists the running connector plugins.
	Connectors func() []*model.ConnectorInfo
}

// Resolver is the root resolver. Resolvers stay thin: they call ent for
// reads (privacy policies scope them to the viewer's workspace) and core
// services for everything with rules.
type Resolver struct {
	deps Deps
}
