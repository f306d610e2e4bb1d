package main

import (
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/tiktok"
	"github.com/neksio/neksio/plugins/whatsapp"
)

func init() {
	builtinConnectors["whatsapp"] = func() sdk.Connector { return whatsapp.New() }
	builtinConnectors["meta"] = func() sdk.Connector { return meta.New() }
	builtinConnectors["tiktok"] = func() sdk.Connector { return tiktok.New() }
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
	return []*cobra.Command{connectorCmd(), sandboxCmd(), simulateCmd()}
}
