package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
)

func migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (ent schema and River) and exit",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			s, err := openStore(cmd.Context(), cfg, true)
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintln(cmd.ErrOrStderr(), "migrations applied")
			return nil
		},
	}
}

func workspaceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "workspace", Short: "Manage workspaces"}
	var name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a workspace; prints its ID alone on stdout",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			s, err := openStore(cmd.Context(), cfg, cfg.AutoMigrate)
			if err != nil {
				return err
			}
			defer s.Close()
			ws, err := workspace.Create(cmd.Context(), s, name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), ws.ID)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "workspace name (required)")
	_ = create.MarkFlagRequired("name")
	cmd.AddCommand(create)
	return cmd
}

func apikeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage API keys"}
	var wsID, role, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; prints the key alone on stdout (shown once)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := tenant.ParseRole(role)
			if err != nil {
				return err
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			s, err := openStore(cmd.Context(), cfg, cfg.AutoMigrate)
			if err != nil {
				return err
			}
			defer s.Close()
			svc := &auth.Service{Store: s}
			key, _, err := svc.CreateKeyForWorkspace(cmd.Context(), wsID, name, r)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
	create.Flags().StringVar(&wsID, "workspace", "", "workspace ID (required)")
	create.Flags().StringVar(&role, "role", "owner", "owner, admin, agent or analyst")
	create.Flags().StringVar(&name, "name", "cli", "a name to tell the key apart")
	_ = create.MarkFlagRequired("workspace")
	cmd.AddCommand(create)
	return cmd
}
