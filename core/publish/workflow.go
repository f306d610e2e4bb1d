package publish

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/post"
	"github.com/neksio/neksio/ent/postevent"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
	"github.com/neksio/neksio/jobs/jobargs"
)

// PostInput creates a post.
type PostInput struct {
	Text        string
	Media       []MediaInput
	Targets     []TargetInput
	ScheduledAt *time.Time
}

// PostUpdate edits a post; nil fields are left as they are.
type PostUpdate struct {
	Text             *string
	Media            []MediaInput
	SetMedia         bool
	Targets          []TargetInput
	SetTargets       bool
	ScheduledAt      *time.Time
	ClearScheduledAt bool
}

// maxTextBytes bounds a post's text whatever the platform.
const maxTextBytes = 100_000

func (s *Service) checkSchedule(at *time.Time) error {
	if at != nil && !at.After(s.now()) {
		return apperr.Invalid("scheduledAt", "the scheduled time %s is in the past: pick a time in the future, or none to publish once approved", at.UTC().Format(time.RFC3339))
	}
	return nil
}

// Create stores a DRAFT post after checking every target.
func (s *Service) Create(ctx context.Context, in PostInput) (*ent.Post, error) {
	v, err := tenant.Require(ctx, tenant.RoleAgent)
	if err != nil {
		return nil, err
	}
	if len(in.Text) > maxTextBytes {
		return nil, apperr.Invalid("text", "the text is longer than %d bytes", maxTextBytes)
	}
	if err := s.checkSchedule(in.ScheduledAt); err != nil {
		return nil, err
	}
	med, err := s.resolveMedia(ctx, s.Store.Ent, in.Media)
	if err != nil {
		return nil, err
	}
	targets, err := s.validate(ctx, s.Store.Ent, in.Text, med, in.Targets)
	if err != nil {
		return nil, err
	}
	var out *ent.Post
	err = s.Store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.Ent.Post.Create().SetAuthor(author(v)).SetText(in.Text).SetMedia(med).
			SetNillableScheduledAt(in.ScheduledAt).Save(ctx)
		if err != nil {
			return fmt.Errorf("publish: creating post: %w", err)
		}
		if err := createTargets(ctx, tx, p.ID, targets); err != nil {
			return err
		}
		out = p
		return record(ctx, tx, p, postevent.KindTransition, "", string(post.StatusDraft), "", nil)
	})
	if err != nil {
		return nil, err
	}
	// Read outside the transaction: edges resolve later, on the store.
	return s.Store.Ent.Post.Get(ctx, out.ID)
}

func createTargets(ctx context.Context, tx *store.Tx, postID pulid.ID, targets []checkedTarget) error {
	for _, t := range targets {
		if err := tx.Ent.PostTarget.Create().SetPostID(postID).SetChannelID(t.channel.ID).SetNillableText(t.in.Text).
			SetFormat(t.format).SetOptions(t.options).Exec(ctx); err != nil {
			return fmt.Errorf("publish: creating target: %w", err)
		}
	}
	return nil
}

// author names the person behind a viewer: "user:…" for a person, by a
// session or by an API key they hold, so nobody approves their own post
// by switching credentials; "apikey:…" for a key that is no person's.
func author(v *tenant.Viewer) string {
	if v.UserID != "" {
		return "user:" + v.UserID
	}
	return v.Actor()
}

// load reads a post of the viewer's workspace with its targets.
func load(ctx context.Context, c *ent.Client, id pulid.ID) (*ent.Post, error) {
	p, err := c.Post.Query().Where(post.ID(id)).WithTargets().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("post")
	}
	if err != nil {
		return nil, fmt.Errorf("publish: loading post: %w", err)
	}
	return p, nil
}

// targetInputs turns stored targets back into inputs (re-validation).
func targetInputs(ts []*ent.PostTarget) []TargetInput {
	out := make([]TargetInput, len(ts))
	for i, t := range ts {
		out[i] = TargetInput{ChannelID: t.ChannelID, Text: t.Text, Options: t.Options}
	}
	return out
}

func mediaInputs(ms []schematype.PostMedia) []MediaInput {
	out := make([]MediaInput, len(ms))
	for i, m := range ms {
		out[i] = MediaInput{MediaID: pulid.ID(m.MediaID), URL: m.URL}
	}
	return out
}

// editable are the states a post can be edited in: before it is scheduled.
var editable = []post.Status{post.StatusDraft, post.StatusInReview, post.StatusApproved, post.StatusRejected}

// Update edits a post before it is scheduled. An edit of an APPROVED post
// sends it back to review (when the workspace requires approval).
func (s *Service) Update(ctx context.Context, id pulid.ID, up PostUpdate) (*ent.Post, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return nil, err
	}
	var out *ent.Post
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "post:"+string(id)); err != nil {
			return err
		}
		p, err := load(ctx, tx.Ent, id)
		if err != nil {
			return err
		}
		if !contains(editable, p.Status) {
			return apperr.New(apperr.CodeConflict, "a %s post cannot be edited%s", p.Status, editHint(p.Status))
		}
		text := p.Text
		if up.Text != nil {
			text = *up.Text
		}
		if len(text) > maxTextBytes {
			return apperr.Invalid("text", "the text is longer than %d bytes", maxTextBytes)
		}
		at := p.ScheduledAt
		if up.ScheduledAt != nil {
			if err := s.checkSchedule(up.ScheduledAt); err != nil {
				return err
			}
			at = up.ScheduledAt
		}
		if up.ClearScheduledAt {
			at = nil
		}
		mi := mediaInputs(p.Media)
		if up.SetMedia {
			mi = up.Media
		}
		med, err := s.resolveMedia(ctx, tx.Ent, mi)
		if err != nil {
			return err
		}
		ti := targetInputs(p.Edges.Targets)
		if up.SetTargets {
			ti = up.Targets
		}
		targets, err := s.validate(ctx, tx.Ent, text, med, ti)
		if err != nil {
			return err
		}
		u := tx.Ent.Post.UpdateOneID(p.ID).Where(post.StatusIn(editable...)).SetText(text).SetMedia(med)
		if at != nil {
			u.SetScheduledAt(*at)
		} else {
			u.ClearScheduledAt()
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("publish: updating post: %w", err)
		}
		if _, err := tx.Ent.PostTarget.Delete().Where(posttarget.PostID(p.ID)).Exec(ctx); err != nil {
			return fmt.Errorf("publish: replacing targets: %w", err)
		}
		if err := createTargets(ctx, tx, p.ID, targets); err != nil {
			return err
		}
		if p.Status == post.StatusApproved {
			need, err := s.RequireApproval(ctx, tx.Ent)
			if err != nil {
				return err
			}
			if need {
				if err := transition(ctx, tx, p, post.StatusInReview, "edited after approval: back to review", post.StatusApproved); err != nil {
					return err
				}
			}
		}
		if err := record(ctx, tx, p, postevent.KindComment, "", "", "edited", nil); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.Post.Get(ctx, out.ID)
}

func editHint(st post.Status) string {
	switch st {
	case post.StatusScheduled:
		return ": unschedule it first (unschedulePost)"
	case post.StatusPublished, post.StatusPartiallyPublished, post.StatusPublishing, post.StatusFailed:
		return ": it has been published (or tried to); create a new post"
	}
	return ""
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Delete removes a post and its history. A post that is publishing is
// refused; a published post is removed from Neksio only (the platforms
// keep it).
func (s *Service) Delete(ctx context.Context, id pulid.ID) error {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "post:"+string(id)); err != nil {
			return err
		}
		p, err := load(ctx, tx.Ent, id)
		if err != nil {
			return err
		}
		if p.Status == post.StatusPublishing {
			return apperr.New(apperr.CodeConflict, "the post is publishing: wait until it has finished")
		}
		if _, err := tx.Ent.PostEvent.Delete().Where(postevent.PostID(p.ID)).Exec(ctx); err != nil {
			return fmt.Errorf("publish: deleting history: %w", err)
		}
		if _, err := tx.Ent.PostTarget.Delete().Where(posttarget.PostID(p.ID)).Exec(ctx); err != nil {
			return fmt.Errorf("publish: deleting targets: %w", err)
		}
		if err := tx.Ent.Post.DeleteOneID(p.ID).Exec(ctx); err != nil {
			return fmt.Errorf("publish: deleting post: %w", err)
		}
		// The history goes with the post; the audit log keeps the deletion.
		tx.Emit(event.Event{Type: event.PostUpdated, WorkspaceID: string(p.WorkspaceID), ObjectID: string(p.ID)})
		return audit.Record(ctx, tx.Ent, "post.delete", "post", string(p.ID), map[string]string{"status": string(p.Status)})
	})
}

// mutate runs f on a post in a transaction holding the post's lock and
// returns the post as it is afterwards.
func (s *Service) mutate(ctx context.Context, id pulid.ID, f func(tx *store.Tx, p *ent.Post) error) (*ent.Post, error) {
	var out *ent.Post
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "post:"+string(id)); err != nil {
			return err
		}
		p, err := load(ctx, tx.Ent, id)
		if err != nil {
			return err
		}
		if err := f(tx, p); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Store.Ent.Post.Get(ctx, out.ID)
}

// revalidate checks a stored post again (channels may have been
// disconnected since it was written).
func (s *Service) revalidate(ctx context.Context, c *ent.Client, p *ent.Post) error {
	med, err := s.resolveMedia(ctx, c, mediaInputs(p.Media))
	if err != nil {
		return err
	}
	_, err = s.validate(ctx, c, p.Text, med, targetInputs(p.Edges.Targets))
	return err
}

// Submit sends a DRAFT or REJECTED post to review; without required
// approval it is approved at once (and scheduled or published).
func (s *Service) Submit(ctx context.Context, id pulid.ID, comment string) (*ent.Post, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return nil, err
	}
	return s.mutate(ctx, id, func(tx *store.Tx, p *ent.Post) error {
		if err := s.revalidate(ctx, tx.Ent, p); err != nil {
			return err
		}
		if err := transition(ctx, tx, p, post.StatusInReview, comment, post.StatusDraft, post.StatusRejected); err != nil {
			return err
		}
		need, err := s.RequireApproval(ctx, tx.Ent)
		if err != nil || need {
			return err
		}
		if err := transition(ctx, tx, p, post.StatusApproved, "approval not required", post.StatusInReview); err != nil {
			return err
		}
		return s.start(ctx, tx, p, p.ScheduledAt)
	})
}

// Approve approves a post in review (admins and owners; an author may
// not approve their own post unless they are the owner), then schedules
// or publishes it.
func (s *Service) Approve(ctx context.Context, id pulid.ID, comment string) (*ent.Post, error) {
	v, err := tenant.Require(ctx, tenant.RoleAdmin)
	if err != nil {
		return nil, err
	}
	return s.mutate(ctx, id, func(tx *store.Tx, p *ent.Post) error {
		if p.Author == author(v) && v.Role != tenant.RoleOwner {
			return apperr.Forbidden("an author may not approve their own post (only an owner may)")
		}
		if p.Status != post.StatusInReview {
			return apperr.New(apperr.CodeConflict, "only a post IN_REVIEW can be approved; this one is %s", p.Status)
		}
		if err := s.revalidate(ctx, tx.Ent, p); err != nil {
			return err
		}
		if err := transition(ctx, tx, p, post.StatusApproved, comment, post.StatusInReview); err != nil {
			return err
		}
		return s.start(ctx, tx, p, p.ScheduledAt)
	})
}

// Reject sends a post in review back to its author (admins and owners).
func (s *Service) Reject(ctx context.Context, id pulid.ID, comment string) (*ent.Post, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	return s.mutate(ctx, id, func(tx *store.Tx, p *ent.Post) error {
		if p.Status != post.StatusInReview {
			return apperr.New(apperr.CodeConflict, "only a post IN_REVIEW can be rejected; this one is %s", p.Status)
		}
		return transition(ctx, tx, p, post.StatusRejected, comment, post.StatusInReview)
	})
}

// Comment adds a comment to a post's history.
func (s *Service) Comment(ctx context.Context, id pulid.ID, comment string) (*ent.Post, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAgent); err != nil {
		return nil, err
	}
	comment = strings.TrimSpace(comment)
	if comment == "" || len(comment) > 10_000 {
		return nil, apperr.Invalid("comment", "a comment has 1 to 10000 bytes")
	}
	return s.mutate(ctx, id, func(tx *store.Tx, p *ent.Post) error {
		return record(ctx, tx, p, postevent.KindComment, "", "", comment, nil)
	})
}

// requireScheduler: scheduling an approved post is the approvers' call
// when the workspace requires approval.
func (s *Service) requireScheduler(ctx context.Context) error {
	need, err := s.RequireApproval(ctx, s.Store.Ent)
	if err != nil {
		return err
	}
	min := tenant.RoleAgent
	if need {
		min = tenant.RoleAdmin
	}
	_, err = tenant.Require(ctx, min)
	return err
}

// Schedule publishes an APPROVED post at at (nil: now), or moves a
// SCHEDULED post's time before it has come.
func (s *Service) Schedule(ctx context.Context, id pulid.ID, at *time.Time) (*ent.Post, error) {
	if err := s.requireScheduler(ctx); err != nil {
		return nil, err
	}
	if err := s.checkSchedule(at); err != nil {
		return nil, err
	}
	return s.mutate(ctx, id, func(tx *store.Tx, p *ent.Post) error {
		switch p.Status {
		case post.StatusApproved:
		case post.StatusScheduled:
			// Back to APPROVED, then scheduled anew with new jobs.
			if err := transition(ctx, tx, p, post.StatusApproved, "rescheduled", post.StatusScheduled); err != nil {
				return err
			}
		default:
			return apperr.New(apperr.CodeConflict, "only an APPROVED or SCHEDULED post can be scheduled or published; this one is %s", p.Status)
		}
		if err := s.revalidate(ctx, tx.Ent, p); err != nil {
			return err
		}
		u := tx.Ent.Post.UpdateOneID(p.ID)
		if at != nil {
			u.SetScheduledAt(*at)
		} else {
			u.ClearScheduledAt()
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		return s.start(ctx, tx, p, at)
	})
}

// Unschedule takes a SCHEDULED post back to APPROVED: its jobs no longer
// publish (they find a newer generation and do nothing).
func (s *Service) Unschedule(ctx context.Context, id pulid.ID) (*ent.Post, error) {
	if err := s.requireScheduler(ctx); err != nil {
		return nil, err
	}
	return s.mutate(ctx, id, func(tx *store.Tx, p *ent.Post) error {
		if p.Status != post.StatusScheduled {
			return apperr.New(apperr.CodeConflict, "only a SCHEDULED post can be unscheduled; this one is %s", p.Status)
		}
		if _, err := tx.Ent.PostTarget.Update().Where(posttarget.PostID(p.ID), posttarget.StatusEQ(posttarget.StatusPending)).
			AddGeneration(1).Save(ctx); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if err := s.cancelJobs(ctx, tx, p.ID); err != nil {
			return err
		}
		return transition(ctx, tx, p, post.StatusApproved, "unscheduled", post.StatusScheduled)
	})
}

// start queues an APPROVED post: one post.publish job per target, at at
// (or now), in tx. The post becomes SCHEDULED or PUBLISHING.
func (s *Service) start(ctx context.Context, tx *store.Tx, p *ent.Post, at *time.Time) error {
	if at != nil && !at.After(s.now()) {
		return apperr.Invalid("scheduledAt", "the scheduled time %s has passed: set a new time (updatePost or schedulePost), or clear it to publish at once", at.UTC().Format(time.RFC3339))
	}
	to := post.StatusPublishing
	if at != nil {
		to = post.StatusScheduled
	}
	if err := transition(ctx, tx, p, to, "", post.StatusApproved); err != nil {
		return err
	}
	if err := s.cancelJobs(ctx, tx, p.ID); err != nil {
		return err
	}
	targets, err := tx.Ent.PostTarget.Query().Where(posttarget.PostID(p.ID)).All(ctx)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	for _, t := range targets {
		n, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID), posttarget.Generation(t.Generation)).
			SetStatus(posttarget.StatusPending).AddGeneration(1).ClearErrorCode().ClearErrorMessage().ClearExternalID().
			ClearURL().ClearPublishingStartedAt().ClearPublishedAt().ClearFailedAt().Save(ctx)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if n == 0 {
			return apperr.New(apperr.CodeConflict, "the post changed meanwhile: try again")
		}
		if err := s.queue(ctx, tx, p.WorkspaceID, t.ID, t.Generation+1, at); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) queue(ctx context.Context, tx *store.Tx, ws, target pulid.ID, gen int, at *time.Time) error {
	opts := jobargs.PostPublish{}.InsertOpts()
	if at != nil {
		opts.ScheduledAt = *at
	}
	return tx.InsertJob(ctx, jobargs.PostPublish{WorkspaceID: string(ws), TargetID: string(target), Generation: gen}, &opts)
}

// cancelJobs cancels the queued publish jobs of a post's targets (a
// reschedule or unschedule), in tx. The targets' generations are bumped
// too, so a job that started meanwhile does nothing either.
func (s *Service) cancelJobs(ctx context.Context, tx *store.Tx, postID pulid.ID) error {
	if s.Jobs == nil {
		return nil
	}
	ids, err := tx.Ent.PostTarget.Query().Where(posttarget.PostID(postID)).IDs(ctx)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	// River's args column is jsonb on PostgreSQL, JSON text on SQLite:
	// ->> takes a key on one and a path on the other.
	key := "target_id"
	if s.Store.Dialect != dialect.Postgres {
		key = "$.target_id"
	}
	for _, id := range ids {
		res, err := s.Jobs.JobListTx(ctx, tx.SQL, river.NewJobListParams().Kinds(jobargs.PostPublish{}.Kind()).
			States(rivertype.JobStateScheduled, rivertype.JobStateAvailable, rivertype.JobStateRetryable).
			Where("args ->> @key = @target", river.NamedArgs{"key": key, "target": string(id)}).First(100))
		if err != nil {
			return fmt.Errorf("publish: listing jobs: %w", err)
		}
		for _, j := range res.Jobs {
			if _, err := s.Jobs.JobCancelTx(ctx, tx.SQL, j.ID); err != nil {
				return fmt.Errorf("publish: cancelling job %d: %w", j.ID, err)
			}
		}
	}
	return nil
}

// RetryTarget publishes a FAILED target again (admins and owners).
func (s *Service) RetryTarget(ctx context.Context, id pulid.ID) (*ent.PostTarget, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	t, err := s.Store.Ent.PostTarget.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.NotFound("post target")
	}
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var out *ent.PostTarget
	_, err = s.mutate(ctx, t.PostID, func(tx *store.Tx, p *ent.Post) error {
		n, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(id), posttarget.StatusEQ(posttarget.StatusFailed)).
			SetStatus(posttarget.StatusPending).AddGeneration(1).ClearErrorCode().ClearErrorMessage().
			ClearPublishingStartedAt().ClearFailedAt().Save(ctx)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if n == 0 {
			return apperr.New(apperr.CodeConflict, "only a FAILED target can be retried")
		}
		if p.Status != post.StatusPublishing {
			if err := transition(ctx, tx, p, post.StatusPublishing, "retrying a target", post.StatusFailed, post.StatusPartiallyPublished); err != nil {
				return err
			}
		}
		if out, err = tx.Ent.PostTarget.Get(ctx, id); err != nil {
			return err
		}
		if err := record(ctx, tx, p, postevent.KindTarget, string(posttarget.StatusFailed), string(posttarget.StatusPending), "retry", &id); err != nil {
			return err
		}
		return s.queue(ctx, tx, p.WorkspaceID, id, out.Generation, nil)
	})
	if err != nil {
		return nil, err
	}
	// The answer is the row as this transaction wrote it (PENDING, the new
	// generation): the job queued with it may already have taken the
	// target (PUBLISHING) by the time a read after the commit runs. The
	// entity comes from the store's client, so its edges still load once
	// the transaction has ended.
	got, err := s.Store.Ent.PostTarget.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return asWritten(got, out), nil
}

// asWritten sets the fields of fresh, an entity read after a transaction,
// to those of written, the same row as the transaction read it back:
// every exported field but the edges. fresh keeps its client.
func asWritten[T any](fresh, written *T) *T {
	dst, src := reflect.ValueOf(fresh).Elem(), reflect.ValueOf(written).Elem()
	for i := range dst.NumField() {
		if f := dst.Type().Field(i); f.IsExported() && !f.Anonymous && f.Name != "Edges" {
			dst.Field(i).Set(src.Field(i))
		}
	}
	return fresh
}
