package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/media"
	"github.com/neksio/neksio/core/privacy"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	entexport "github.com/neksio/neksio/ent/export"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs"
)

// Privacy operations: export, erasure, workspace deletion, retention
// (docs/privacy.md). The App's media bucket holds the files and the
// archives.
func wirePrivacy(_ context.Context, a *App) error {
	grace := privacy.DefaultGrace // a Config built without Load (tests)
	if a.Cfg.WorkspaceDeleteGrace != nil {
		grace = *a.Cfg.WorkspaceDeleteGrace
	}
	key, err := a.Channels.Box.DeriveKey("neksio export url signing v1")
	if err != nil {
		return err
	}
	p := &privacy.Service{Store: a.Store, Channels: a.Channels, Sessions: a.Auth, SignKey: key,
		PublicURL: a.Cfg.PublicURL, Grace: grace, Log: a.Log.With("component", "privacy")}
	// The media bucket (files and archives), shared with publishing.
	p.Bucket = a.Bucket
	if a.Cfg.Media.Bucket == "" {
		p.LocalDir = filepath.Join(a.Cfg.DataDir, "media")
	}
	if kb := a.GraphDeps.Knowledge; kb != nil {
		p.Vectors = kb.Vectors
		p.Spaces = func() []vector.Space {
			e := kb.Provider.Embedder()
			return []vector.Space{{Model: e.Model(), Dimension: e.Dimension()}}
		}
	}
	a.Inbox.OnAuthorizationRemoved = p.AuthorizationRemoved
	a.PeriodicJobs = append(a.PeriodicJobs, jobs.RegisterPrivacy(a.Workers, p, privacy.SettingsPolicy(a.Store)))
	a.GraphDeps.Privacy = p
	meta := &privacy.MetaDeletion{Privacy: p, AppSecret: func() string { return appSettings(a.Cfg.Environment(), "meta").ClientSecret }}
	a.Mounts = append(a.Mounts, func(mux *http.ServeMux) {
		mux.Handle("GET /exports/{id}", p)
		mux.Handle("POST /privacy/meta/data-deletion", meta)
		mux.HandleFunc("GET /privacy/meta/data-deletion/status", meta.ServeStatus)
	})
	return nil
}

// exportCmd writes a workspace's archive from the command line, the same
// archive export.build writes.
func exportCmd() *cobra.Command {
	var wsID, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write an archive of everything a workspace holds (zip: JSON lines per table and media files)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			s, err := openStore(ctx, cfg, cfg.AutoMigrate)
			if err != nil {
				return err
			}
			defer s.Close()
			pctx := tenant.NewContext(ctx, tenant.PlatformViewer("cli export"))
			if _, err := s.Ent.Workspace.Get(pctx, pulid.ID(wsID)); err != nil {
				return fmt.Errorf("workspace %s: %w", wsID, err)
			}
			bucket, err := media.OpenBucket(ctx, cfg.Media.Bucket, cfg.DataDir)
			if err != nil {
				return err
			}
			defer bucket.Close()
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			p := &privacy.Service{Store: s, Bucket: bucket}
			sys := tenant.NewContext(ctx, tenant.System(wsID, "cli export"))
			if err := p.WriteArchive(sys, wsID, entexport.ScopeWorkspace, nil, f); err != nil {
				f.Close()
				os.Remove(out)
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := audit.RecordFor(ctx, s.Ent, wsID, "operator:cli", "export.cli", "Workspace", wsID, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "wrote", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&wsID, "workspace", "", "workspace ID (required)")
	cmd.Flags().StringVar(&out, "out", "", "archive file to write (required)")
	_ = cmd.MarkFlagRequired("workspace")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
