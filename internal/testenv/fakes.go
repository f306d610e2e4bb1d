package testenv

import "github.com/neksio/neksio/plugins/sdk"

// OneConnector is a fake connector gateway (the Get(name) half that
// core/channel, core/inbox and core/webhook hold): it hands out the same
// connector whatever the name.
type OneConnector struct{ Connector sdk.Connector }

// Get returns the gateway's connector.
func (g OneConnector) Get(string) (sdk.Connector, error) { return g.Connector, nil }

// Gateway is a gateway that answers every name with c.
func Gateway(c sdk.Connector) OneConnector { return OneConnector{Connector: c} }
