package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/team"
	"github.com/neksio/neksio/core/tenant"
)

func userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage people who sign in"}
	var email, wsID, role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a person (or find them by email) and add them to a workspace; prints the user ID alone on stdout",
		Long: "Creates a person who signs in with email and password, or reuses the one with that email, " +
			"and makes them a member of the workspace with the role. A new person's password is read from " +
			"NEKSIO_PASSWORD, else from the first line of standard input (never from a flag: flags show in " +
			"process lists and shell history); an existing person keeps theirs.",
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
			svc := &team.Service{Store: s, Auth: &auth.Service{Store: s}}
			u, created, err := svc.CreateUser(cmd.Context(), email, wsID, r, func() (string, error) {
				return readPassword(cmd.InOrStdin())
			})
			if err != nil {
				return err
			}
			if !created {
				fmt.Fprintln(cmd.ErrOrStderr(), "an account with this email exists: added it to the workspace, its password is unchanged")
			}
			fmt.Fprintln(cmd.OutOrStdout(), u.ID)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "the person's email (required)")
	create.Flags().StringVar(&wsID, "workspace", "", "workspace ID (required)")
	create.Flags().StringVar(&role, "role", "agent", "owner, admin, agent or analyst")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("workspace")
	cmd.AddCommand(create)
	return cmd
}

// readPassword takes NEKSIO_PASSWORD, else the first line of in.
func readPassword(in io.Reader) (string, error) {
	if pw, ok := os.LookupEnv("NEKSIO_PASSWORD"); ok && pw != "" {
		return pw, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password: set NEKSIO_PASSWORD or write it on standard input")
	}
	if err := auth.CheckPassword(pw); err != nil {
		return "", err
	}
	return pw, nil
}
