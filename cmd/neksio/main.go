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
	os.Exit(execute(os.Args[1:]))
}

// execute runs the command line args and returns the exit code. SIGINT and
// SIGTERM cancel the command's context (serve shuts down gracefully).
func execute(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCmd()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "neksio:", err)
		return 1
	}
	return 0
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "neksio",
		Short:         "Neksio: AI agents for a business's social channels, behind one GraphQL API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), migrateCmd(), workspaceCmd(), apikeyCmd(), userCmd(), exportCmd())
	root.AddCommand(extraCommands()...)
	return root
}
