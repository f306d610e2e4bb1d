// Package publish is the publishing workflow: posts and their targets
// (one per channel), validation against each platform's rules before
// anything is reviewed or queued, approval, scheduling on River, and each
// target's publishing state machine (docs/publishing.md).
//
// A post moves DRAFT → IN_REVIEW → APPROVED → SCHEDULED → PUBLISHING →
// PUBLISHED | PARTIALLY_PUBLISHED | FAILED (REJECTED from review). Every
// transition is one guarded UPDATE (it applies only from the expected
// state), a PostEvent and an audit entry, in one transaction with the
// jobs it queues.
package publish

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/post"
	"github.com/neksio/neksio/ent/postevent"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// Connectors gives the connectors' descriptions and clients by name
// (*connector.Manager).
type Connectors interface {
	Info(name string) (connector.Info, error)
	Get(name string) (sdk.Connector, error)
}

// Credentials opens a channel's secrets and app settings for a call
// (*channel.Service).
type Credentials interface {
	Credentials(ch *ent.Channel) (sdk.Credentials, error)
	AppFor(ch *ent.Channel) sdk.App
}

// MediaURLs signs URLs of uploaded media (*media.Service).
type MediaURLs interface {
	URL(id pulid.ID) string
	// PublicHost reports whether NEKSIO_PUBLIC_URL is reachable by a
	// platform (not loopback or private).
	PublicHost() bool
}

// JobCanceller lists and cancels queued jobs (*river.Client[*sql.Tx]).
type JobCanceller interface {
	JobListTx(ctx context.Context, tx *sql.Tx, params *river.JobListParams) (*river.JobListResult, error)
	JobCancelTx(ctx context.Context, tx *sql.Tx, jobID int64) (*rivertype.JobRow, error)
}

// Service runs the publishing workflow.
type Service struct {
	Store      *store.Store
	Connectors Connectors
	Channels   Credentials
	Media      MediaURLs
	// Jobs cancels the queued jobs of unscheduled and rescheduled targets;
	// without it they run and do nothing (their generation is old).
	Jobs JobCanceller
	// Knowledge and Provider serve generatePost; either may be nil (then
	// generation answers UNAVAILABLE).
	Knowledge *knowledge.Service
	Provider  ai.Provider
	Log       *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
	// StatusPoll is the first wait before polling an asynchronous
	// publication (5s when zero); later polls back off.
	StatusPoll time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// RequireApproval reports the workspace's requirePostApproval setting
// (on until changed).
func (s *Service) RequireApproval(ctx context.Context, c *ent.Client) (bool, error) {
	row, err := c.PublishingSettings.Query().Only(ctx)
	if ent.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("publish: reading settings: %w", err)
	}
	return row.RequirePostApproval, nil
}

// Settings returns the workspace's publishing settings, defaults until
// first updated (an unsaved row).
func (s *Service) Settings(ctx context.Context) (*ent.PublishingSettings, error) {
	v, err := tenant.Require(ctx, tenant.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	row, err := s.Store.Ent.PublishingSettings.Query().Only(ctx)
	if ent.IsNotFound(err) {
		return &ent.PublishingSettings{ID: pulid.ID("pbs_default"), WorkspaceID: pulid.ID(v.WorkspaceID), RequirePostApproval: true,
			CreatedAt: s.now(), UpdatedAt: s.now()}, nil
	}
	return row, err
}

// UpdateSettings changes the publishing settings (admins).
func (s *Service) UpdateSettings(ctx context.Context, requireApproval *bool) (*ent.PublishingSettings, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	var out *ent.PublishingSettings
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		row, err := tx.Ent.PublishingSettings.Query().Only(ctx)
		if ent.IsNotFound(err) {
			row, err = tx.Ent.PublishingSettings.Create().Save(ctx)
		}
		if err != nil {
			return fmt.Errorf("publish: settings: %w", err)
		}
		u := row.Update()
		meta := map[string]string{}
		if requireApproval != nil {
			u.SetRequirePostApproval(*requireApproval)
			meta["require_post_approval"] = fmt.Sprint(*requireApproval)
		}
		if out, err = u.Save(ctx); err != nil {
			return fmt.Errorf("publish: settings: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "publishing.settings.update", "publishing_settings", string(out.ID), meta)
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.PublishingSettings.Get(ctx, out.ID)
}

// record writes a post's history entry and audit entry and tells
// subscribers, all in tx.
func record(ctx context.Context, tx *store.Tx, p *ent.Post, kind postevent.Kind, from, to, comment string, target *pulid.ID) error {
	actor := tenant.FromContext(ctx).Actor()
	c := tx.Ent.PostEvent.Create().SetPostID(p.ID).SetKind(kind).SetActor(actor).
		SetFromStatus(from).SetToStatus(to).SetComment(comment)
	if target != nil {
		c.SetTargetID(*target)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("publish: recording history: %w", err)
	}
	action := "post.comment"
	meta := map[string]string{}
	switch kind {
	case postevent.KindTransition:
		action = "post.transition"
		meta["from"], meta["to"] = from, to
	case postevent.KindTarget:
		action = "post.target"
		meta["target"], meta["to"] = string(*target), to
	}
	if err := audit.Record(ctx, tx.Ent, action, "post", string(p.ID), meta); err != nil {
		return err
	}
	tx.Emit(event.Event{Type: event.PostUpdated, WorkspaceID: string(p.WorkspaceID), ObjectID: string(p.ID)})
	return nil
}

// transition moves p from one of from to to with a guarded UPDATE and
// records it. It fails with CONFLICT when p is no longer in one of from.
func transition(ctx context.Context, tx *store.Tx, p *ent.Post, to post.Status, comment string, from ...post.Status) error {
	n, err := tx.Ent.Post.Update().Where(post.ID(p.ID), post.StatusIn(from...)).SetStatus(to).Save(ctx)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if n == 0 {
		cur, err := tx.Ent.Post.Get(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return apperr.New(apperr.CodeConflict, "the post is %s, not %s", cur.Status, statusList(from))
	}
	prev := p.Status
	p.Status = to
	return record(ctx, tx, p, postevent.KindTransition, string(prev), string(to), comment, nil)
}

func statusList(ss []post.Status) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " or "
		}
		out += string(s)
	}
	return out
}
