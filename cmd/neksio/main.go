// Command neksio is the one binary: the server, its migrations, the
// operator's CLI, the built-in connector plugins, the platform emulators
// and the webhook simulator.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "neksio:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "neksio",
		Short:         "Neksio: AI agents for a business's social channels, behind one GraphQL API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), migrateCmd(), workspaceCmd(), apikeyCmd())
	root.AddCommand(extraCommands()...)
	return root
}
