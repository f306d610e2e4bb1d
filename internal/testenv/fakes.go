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

// Dig walks decoded JSON (maps and slices from encoding/json): a string
// step indexes an object, an int step an array. It returns nil when a
// step does not fit, so a test can compare the result directly.
func Dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}
