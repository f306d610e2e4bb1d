package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/neksio/neksio/core/analytics"
	"github.com/neksio/neksio/jobs"
)

// Analytics: the query, the export and the rollup job
// (docs/analytics.md).
func wireAnalytics(_ context.Context, a *App) error {
	svc := &analytics.Service{Store: a.Store, Log: a.Log.With("component", "analytics")}
	a.PeriodicJobs = append(a.PeriodicJobs, jobs.RegisterAnalytics(a.Workers, svc))
	a.GraphDeps.Analytics = svc
	return nil
}

// analyticsCmd is `neksio analytics rebuild`: recompute the rollups from
// the base tables (after a restore, an import of old messages, or a
// change of how a metric is counted).
func analyticsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "analytics", Short: "Maintain analytics rollups"}
	var ws string
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild the analytics rollups of one workspace (--workspace) or all from the base tables",
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
			svc := &analytics.Service{Store: s}
			var res []analytics.RollResult
			if ws != "" {
				r, err := svc.Roll(cmd.Context(), ws, true)
				if err != nil {
					return err
				}
				res = append(res, r)
			} else if res, err = svc.RebuildAll(cmd.Context()); err != nil {
				return err
			}
			for _, r := range res {
				fmt.Fprintf(cmd.OutOrStdout(), "rolled up %s to %s: %d facts, %d rows\n",
					r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Facts, r.Rows)
			}
			return nil
		},
	}
	rebuild.Flags().StringVar(&ws, "workspace", "", "workspace ID (default: every workspace)")
	cmd.AddCommand(rebuild)
	return cmd
}
