package main

import (
	"fmt"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/whatsapp"
)

// builtinConnectors are served by this binary (`neksio connector serve NAME`).
var builtinConnectors = map[string]func() sdk.Connector{
	"whatsapp": func() sdk.Connector { return whatsapp.New() },
	"meta":     func() sdk.Connector { return meta.New() },
	"google":   func() sdk.Connector { return google.New() },
	"tiktok":   func() sdk.Connector { return tiktok.New() },
}

// defaultRequestsPerMinute are the platforms' published request quotas,
// per app (Google: 300 a minute per project).
var defaultRequestsPerMinute = map[string]int{"google": 300}

// requestQuotas reads each connector's request quota: the default above,
// or NEKSIO_<CONNECTOR>_REQUESTS_PER_MINUTE (0 turns it off), for built-in
// and third-party connectors alike.
func requestQuotas(environ []string) (map[string]int, error) {
	out := map[string]int{}
	for name, n := range defaultRequestsPerMinute {
		out[name] = n
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(k, "NEKSIO_")
		if !ok {
			continue
		}
		name, ok := strings.CutSuffix(rest, "_REQUESTS_PER_MINUTE")
		if !ok || name == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s must be a whole number of requests a minute (0: no limit), not %q", k, v)
		}
		out[strings.ToLower(name)] = n
	}
	return out, nil
}

func connectorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "connector", Short: "Built-in connector plugins"}
	cmd.AddCommand(&cobra.Command{
		Use:    "serve NAME",
		Short:  "Serve a built-in connector as a go-plugin process (the host runs this)",
		Args:   cobra.ExactArgs(1),
		Hidden: false,
		RunE: func(_ *cobra.Command, args []string) error {
			mk, ok := builtinConnectors[args[0]]
			if !ok {
				return fmt.Errorf("no built-in connector %q", args[0])
			}
			// main turns SIGTERM into a cancelled context for serve's
			// graceful shutdown; a plugin has nothing to shut down and
			// must stop on it, as process managers expect.
			signal.Reset(syscall.SIGTERM)
			sdk.Serve(mk())
			return nil
		},
	})
	return cmd
}

func extraCommands() []*cobra.Command {
	return []*cobra.Command{connectorCmd(), sandboxCmd(), simulateCmd(), analyticsCmd()}
}
