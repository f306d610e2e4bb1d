package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/post"
	"github.com/neksio/neksio/ent/postevent"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// recordTimeout bounds recording a call's outcome: the job's deadline
// must not stop it (a post published but left PUBLISHING would be looked
// up again), but it stays short.
const recordTimeout = 5 * time.Second

// lookupMargin widens the crash lookup's Since: clocks of the host and
// the platform differ.
const lookupMargin = 2 * time.Minute

// errInconclusive fails a target whose interrupted publish could not be
// confirmed either way: publishing again could post twice.
const inconclusive = "the publish was interrupted and %s could not confirm whether the post exists (%s); it is not published again automatically: check the account, then retryPostTarget if it is missing"

// loadTarget reads a target with its post and channel; nil when it is
// gone or belongs to another generation.
func (s *Service) loadTarget(ctx context.Context, id pulid.ID, gen int) (*ent.PostTarget, error) {
	t, err := s.Store.Ent.PostTarget.Query().Where(posttarget.ID(id)).WithPost().WithChannel().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, apperr.Retry(fmt.Errorf("publish: loading target: %w", err), 0)
	}
	if t.Generation != gen {
		return nil, nil
	}
	return t, nil
}

// Publish runs one post.publish job: the target's state machine
// PENDING → PUBLISHING → PUBLISHED | FAILED. It returns an
// *apperr.Transient (connector.Classify: with the platform's Retry-After,
// if any) when the job should run again;
// whether it does is the job layer's decision.
func (s *Service) Publish(ctx context.Context, targetID pulid.ID, gen int) error {
	return s.publish(ctx, targetID, gen, false)
}

// PublishLastAttempt is Publish when no retry follows (the job's last
// attempt): what Publish would return as retryable is recorded on the
// target as FAILED instead, so a person sees it.
func (s *Service) PublishLastAttempt(ctx context.Context, targetID pulid.ID, gen int) error {
	return s.publish(ctx, targetID, gen, true)
}

func (s *Service) publish(ctx context.Context, targetID pulid.ID, gen int, giveUp bool) error {
	t, err := s.loadTarget(ctx, targetID, gen)
	if t == nil || err != nil {
		return err
	}
	switch t.Status {
	case posttarget.StatusPublished, posttarget.StatusFailed:
		return nil
	case posttarget.StatusPublishing:
		if t.ExternalID != "" {
			return nil // asynchronous: its post.status job follows it
		}
		return s.recoverTarget(ctx, t, giveUp)
	}
	ch := t.Edges.Channel
	if ch.Status != entchannel.StatusActive {
		return s.fail(ctx, t, &sdk.Error{Class: sdk.ClassPermanent, Message: fmt.Sprintf("the channel is %s: reconnect it, then retry", ch.Status)})
	}
	// Claim: PENDING → PUBLISHING with the attempt recorded, before the
	// platform is called.
	err = s.settle(ctx, t, func(tx *store.Tx) error {
		n, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID), posttarget.StatusEQ(posttarget.StatusPending),
			posttarget.Generation(gen)).SetStatus(posttarget.StatusPublishing).AddAttempts(1).
			SetPublishingStartedAt(s.now()).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errGone
		}
		return s.derive(ctx, tx, t.PostID)
	})
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return apperr.Retry(err, 0)
	}
	t.Status = posttarget.StatusPublishing
	t.PublishingStartedAt = ptr(s.now())
	return s.call(ctx, t, giveUp)
}

var errGone = errors.New("publish: target changed meanwhile")

func ptr[T any](v T) *T { return &v }

// request builds the connector call for t.
func (s *Service) request(t *ent.PostTarget) (*sdk.PublishRequest, *sdk.Error) {
	ch, p := t.Edges.Channel, t.Edges.Post
	creds, err := s.Channels.Credentials(ch)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassAuthRevoked, Message: "the channel's credentials cannot be opened: reconnect it"}
	}
	if creds.Extra == nil {
		creds.Extra = map[string]string{}
	}
	creds.Extra["platform"] = ch.Platform
	text := p.Text
	if t.Text != nil {
		text = *t.Text
	}
	return &sdk.PublishRequest{App: s.Channels.AppFor(ch), Credentials: creds, AccountID: ch.ExternalID, Platform: ch.Platform,
		Post: s.sdkPost(text, p.Media, t.Format, t.Options, false), IdempotencyKey: string(t.ID)}, nil
}

// call publishes a PUBLISHING target and records the outcome.
func (s *Service) call(ctx context.Context, t *ent.PostTarget, giveUp bool) error {
	req, perr := s.request(t)
	if perr != nil {
		return s.fail(ctx, t, perr)
	}
	conn, err := s.Connectors.Get(t.Edges.Channel.Connector)
	if err != nil {
		// Nothing was sent: the next run may publish.
		return s.refused(ctx, t, giveUp, &sdk.Error{Class: sdk.ClassRetryable, Message: "connector unavailable: " + err.Error()})
	}
	res, err := conn.Publish(ctx, req)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err != nil {
		var se *sdk.Error
		if errors.As(err, &se) && se.Class == sdk.ClassRetryable && (se.Code != "" || se.RetryAfter > 0) {
			// The platform answered and refused (a rate limit, a 5xx
			// with its code): nothing was created.
			return s.refused(ctx, t, giveUp, se)
		}
		if !errors.As(err, &se) || se.Class == sdk.ClassRetryable {
			// No answer (a timeout, a lost connection, a crashed
			// plugin): the post may exist. The target stays PUBLISHING,
			// so the next run asks the platform before publishing again.
			if giveUp {
				return s.fail(ctx, t, &sdk.Error{Class: sdk.ClassPermanent, Code: "interrupted",
					Message: fmt.Sprintf(inconclusive, t.Edges.Channel.Platform, err.Error())})
			}
			return apperr.Retry(err, 0)
		}
		return s.fail(ctx, t, se)
	}
	return s.outcome(ctx, t, res)
}

// outcome records what the platform said about a target.
func (s *Service) outcome(ctx context.Context, t *ent.PostTarget, res *sdk.PublishResult) error {
	switch res.State {
	case sdk.PublishPublished, sdk.PublishScheduled:
		return s.published(ctx, t, res)
	case sdk.PublishProcessing, sdk.PublishPending:
		if res.ExternalID == "" {
			return s.fail(ctx, t, &sdk.Error{Class: sdk.ClassPermanent, Message: "the platform is processing the post but gave no id to follow it by"})
		}
		return s.processing(ctx, t, res.ExternalID)
	case sdk.PublishFailed:
		se := res.Error
		if se == nil {
			se = &sdk.Error{Class: sdk.ClassPermanent, Message: "the platform refused the post"}
		}
		return s.fail(ctx, t, se)
	}
	return s.fail(ctx, t, &sdk.Error{Class: sdk.ClassPermanent, Message: fmt.Sprintf("unexpected publish state %q", res.State)})
}

// recoverTarget handles a target found PUBLISHING with no platform id: a
// run died mid-call. The platform is asked whether the post exists (by
// the idempotency key, the content and the time) and it is published
// again only when the answer is "not found".
func (s *Service) recoverTarget(ctx context.Context, t *ent.PostTarget, giveUp bool) error {
	req, perr := s.request(t)
	if perr != nil {
		return s.fail(ctx, t, perr)
	}
	platform := t.Edges.Channel.Platform
	conn, err := s.Connectors.Get(t.Edges.Channel.Connector)
	if err != nil {
		return apperr.Retry(err, 0)
	}
	since := s.now().Add(-time.Hour)
	if t.PublishingStartedAt != nil {
		since = *t.PublishingStartedAt
	}
	res, err := conn.PublishStatus(ctx, &sdk.PublishStatusRequest{App: req.App, Credentials: req.Credentials, AccountID: req.AccountID,
		Platform: req.Platform, IdempotencyKey: req.IdempotencyKey, Post: &req.Post, Since: since.Add(-lookupMargin)})
	ctx2, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err != nil {
		var se *sdk.Error
		if sdk.ClassOf(err) == sdk.ClassRetryable && !giveUp {
			return connector.Classify(err)
		}
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Message
		}
		return s.fail(ctx2, t, &sdk.Error{Class: sdk.ClassPermanent, Code: "interrupted", Message: fmt.Sprintf(inconclusive, platform, msg)})
	}
	if res.State != sdk.PublishNotFound {
		s.log().InfoContext(ctx, "publish: an interrupted publish was found at the platform", "target", t.ID, "state", res.State)
		return s.outcome(ctx2, t, res)
	}
	// Not there: publishing again is safe. The attempt is recorded first.
	err = s.settle(ctx2, t, func(tx *store.Tx) error {
		n, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID), posttarget.StatusEQ(posttarget.StatusPublishing),
			posttarget.Generation(t.Generation)).AddAttempts(1).SetPublishingStartedAt(s.now()).Save(ctx2)
		if err == nil && n == 0 {
			err = errGone
		}
		return err
	})
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return apperr.Retry(err, 0)
	}
	return s.call(ctx, t, giveUp)
}

// Status runs one post.status job: it asks the platform about an
// asynchronous publication until it is published or failed. It returns an
// *apperr.Transient while the platform is still processing or does not
// answer.
func (s *Service) Status(ctx context.Context, targetID pulid.ID, gen int, externalID string) error {
	return s.status(ctx, targetID, gen, externalID, false)
}

// StatusLastAttempt is Status when no retry follows: a publication still
// processing, or a platform that does not answer, is recorded FAILED.
func (s *Service) StatusLastAttempt(ctx context.Context, targetID pulid.ID, gen int, externalID string) error {
	return s.status(ctx, targetID, gen, externalID, true)
}

func (s *Service) status(ctx context.Context, targetID pulid.ID, gen int, externalID string, giveUp bool) error {
	t, err := s.loadTarget(ctx, targetID, gen)
	if t == nil || err != nil {
		return err
	}
	if t.Status != posttarget.StatusPublishing || t.ExternalID != externalID {
		return nil
	}
	req, perr := s.request(t)
	if perr != nil {
		return s.fail(ctx, t, perr)
	}
	conn, err := s.Connectors.Get(t.Edges.Channel.Connector)
	if err != nil {
		return apperr.Retry(err, 0)
	}
	res, err := conn.PublishStatus(ctx, &sdk.PublishStatusRequest{App: req.App, Credentials: req.Credentials, AccountID: req.AccountID,
		Platform: req.Platform, ExternalID: externalID, IdempotencyKey: req.IdempotencyKey, Post: &req.Post})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err != nil {
		if sdk.ClassOf(err) == sdk.ClassRetryable && !giveUp {
			return connector.Classify(err)
		}
		var se *sdk.Error
		if !errors.As(err, &se) {
			se = &sdk.Error{Class: sdk.ClassPermanent, Message: err.Error()}
		}
		return s.fail(ctx, t, se)
	}
	switch res.State {
	case sdk.PublishProcessing, sdk.PublishPending:
		if giveUp {
			return s.fail(ctx, t, &sdk.Error{Class: sdk.ClassPermanent, Code: "timeout",
				Message: "the platform was still processing the post after every check; look at the account, then retryPostTarget if it is missing"})
		}
		return apperr.Retry(errors.New("still processing"), s.poll())
	case sdk.PublishNotFound:
		return s.fail(ctx, t, &sdk.Error{Class: sdk.ClassPermanent, Message: "the platform no longer knows the post it was processing"})
	}
	if res.ExternalID == "" {
		res.ExternalID = externalID
	}
	return s.outcome(ctx, t, res)
}

// Outcome applies a platform's webhook about a publication (TikTok's
// publish completion) to the target that holds its id, if any.
func (s *Service) Outcome(ctx context.Context, channelID pulid.ID, res *sdk.PublishResult) error {
	if res == nil || res.ExternalID == "" {
		return nil
	}
	t, err := s.Store.Ent.PostTarget.Query().Where(posttarget.ChannelID(channelID), posttarget.ExternalID(res.ExternalID),
		posttarget.StatusEQ(posttarget.StatusPublishing)).WithPost().WithChannel().First(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	switch res.State {
	case sdk.PublishPublished, sdk.PublishFailed:
		return s.outcome(ctx, t, res)
	}
	return nil
}

// settle runs f in a transaction holding the post's lock: targets of one
// post settle one at a time, so the post's status is derived from what
// they all are.
func (s *Service) settle(ctx context.Context, t *ent.PostTarget, f func(tx *store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, "post:"+string(t.PostID)); err != nil {
			return err
		}
		return f(tx)
	})
}

// published records a published target: its platform id in the same
// transaction that marks it PUBLISHED.
func (s *Service) published(ctx context.Context, t *ent.PostTarget, res *sdk.PublishResult) error {
	return s.finish(ctx, t, func(tx *store.Tx) (int, error) {
		u := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID), posttarget.StatusEQ(posttarget.StatusPublishing),
			posttarget.Generation(t.Generation)).SetStatus(posttarget.StatusPublished).SetExternalID(res.ExternalID).
			SetPublishedAt(s.now()).ClearErrorCode().ClearErrorMessage()
		if res.URL != "" {
			u.SetURL(res.URL)
		}
		return u.Save(ctx)
	}, posttarget.StatusPublished, res.URL)
}

func (s *Service) poll() time.Duration {
	if s.StatusPoll > 0 {
		return s.StatusPoll
	}
	return 5 * time.Second
}

// processing records the platform's id of an asynchronous publication
// and queues its status check, in one transaction.
func (s *Service) processing(ctx context.Context, t *ent.PostTarget, externalID string) error {
	err := s.settle(ctx, t, func(tx *store.Tx) error {
		n, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID), posttarget.StatusEQ(posttarget.StatusPublishing),
			posttarget.Generation(t.Generation)).SetExternalID(externalID).Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		opts := jobargs.PostStatus{}.InsertOpts()
		opts.ScheduledAt = s.now().Add(s.poll())
		tx.Emit(event.Event{Type: event.PostUpdated, WorkspaceID: string(t.WorkspaceID), ObjectID: string(t.PostID)})
		return tx.InsertJob(ctx, jobargs.PostStatus{WorkspaceID: string(t.WorkspaceID), TargetID: string(t.ID),
			Generation: t.Generation, ExternalID: externalID}, &opts)
	})
	if err != nil {
		return apperr.Retry(err, 0)
	}
	return nil
}

// refused puts a target the platform refused for now back to PENDING (or
// FAILED on the last run) and asks for a retry after its delay.
func (s *Service) refused(ctx context.Context, t *ent.PostTarget, giveUp bool, se *sdk.Error) error {
	if giveUp {
		return s.fail(ctx, t, se)
	}
	err := s.settle(ctx, t, func(tx *store.Tx) error {
		_, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID), posttarget.StatusEQ(posttarget.StatusPublishing),
			posttarget.Generation(t.Generation)).SetStatus(posttarget.StatusPending).SetErrorCode(errorCode(se)).
			SetErrorMessage("will retry: " + se.Message).Save(ctx)
		tx.Emit(event.Event{Type: event.PostUpdated, WorkspaceID: string(t.WorkspaceID), ObjectID: string(t.PostID)})
		return err
	})
	if err != nil {
		return apperr.Retry(err, 0)
	}
	return connector.Classify(se)
}

func errorCode(se *sdk.Error) string {
	if se.Code != "" {
		return string(se.Class) + ":" + se.Code
	}
	return string(se.Class)
}

// fail marks a target FAILED with the platform's message.
func (s *Service) fail(ctx context.Context, t *ent.PostTarget, se *sdk.Error) error {
	err := s.finish(ctx, t, func(tx *store.Tx) (int, error) {
		n, err := tx.Ent.PostTarget.Update().Where(posttarget.ID(t.ID),
			posttarget.StatusIn(posttarget.StatusPending, posttarget.StatusPublishing), posttarget.Generation(t.Generation)).
			SetStatus(posttarget.StatusFailed).SetFailedAt(s.now()).SetErrorCode(errorCode(se)).SetErrorMessage(se.Message).Save(ctx)
		if err == nil && n > 0 && se.Class == sdk.ClassAuthRevoked {
			ch := t.Edges.Channel
			if err := tx.Ent.Channel.UpdateOneID(ch.ID).SetStatus(entchannel.StatusNeedsReconnect).SetLastError(se.Message).Exec(ctx); err != nil {
				return 0, err
			}
			tx.Emit(event.Event{Type: event.ChannelUpdated, WorkspaceID: string(t.WorkspaceID), ObjectID: string(ch.ID), ChannelID: string(ch.ID)})
		}
		return n, err
	}, posttarget.StatusFailed, se.Message)
	if err != nil {
		return err
	}
	s.log().WarnContext(ctx, "publish: target failed", "target", t.ID, "class", se.Class, "code", se.Code, "error", se.Message)
	return nil
}

// finish applies a target's final transition, its history entry and the
// post's derived status in one transaction.
func (s *Service) finish(ctx context.Context, t *ent.PostTarget, update func(tx *store.Tx) (int, error), to posttarget.Status, comment string) error {
	err := s.settle(ctx, t, func(tx *store.Tx) error {
		n, err := update(tx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errGone
		}
		p := t.Edges.Post
		if err := record(ctx, tx, p, postevent.KindTarget, string(t.Status), string(to), comment, &t.ID); err != nil {
			return err
		}
		return s.derive(ctx, tx, t.PostID)
	})
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return apperr.Retry(err, 0)
	}
	return nil
}

// derive sets a publishing post's status from its targets: PUBLISHING
// while any is pending or publishing, then PUBLISHED, FAILED or
// PARTIALLY_PUBLISHED.
func (s *Service) derive(ctx context.Context, tx *store.Tx, postID pulid.ID) error {
	p, err := tx.Ent.Post.Query().Where(post.ID(postID)).WithTargets().Only(ctx)
	if err != nil {
		return err
	}
	var published, failed, open int
	for _, t := range p.Edges.Targets {
		switch t.Status {
		case posttarget.StatusPublished:
			published++
		case posttarget.StatusFailed:
			failed++
		default:
			open++
		}
	}
	to := post.StatusPublishing
	switch {
	case open > 0:
	case failed == 0:
		to = post.StatusPublished
	case published == 0:
		to = post.StatusFailed
	default:
		to = post.StatusPartiallyPublished
	}
	if to == p.Status {
		return nil
	}
	from := []post.Status{post.StatusScheduled, post.StatusPublishing, post.StatusPublished, post.StatusPartiallyPublished, post.StatusFailed}
	if !contains(from, p.Status) {
		return nil
	}
	if to == post.StatusPublished || to == post.StatusPartiallyPublished {
		if err := tx.Ent.Post.UpdateOneID(p.ID).SetPublishedAt(s.now()).Exec(ctx); err != nil {
			return err
		}
	}
	return transition(ctx, tx, p, to, "", from...)
}

// SystemContext is the viewer of a publishing job.
func SystemContext(ctx context.Context, workspaceID string) context.Context {
	return tenant.NewContext(ctx, tenant.System(workspaceID, "publish"))
}

// Hook applies publish events of a platform's webhooks (TikTok's publish
// completion) to their target once the webhook's transaction commits
// (core/inbox's OnPublish).
func (s *Service) Hook() func(ctx context.Context, tx *store.Tx, ch *ent.Channel, ev *sdk.Event) error {
	return func(ctx context.Context, tx *store.Tx, ch *ent.Channel, ev *sdk.Event) error {
		res := ev.Publish
		if res == nil || res.State != sdk.PublishPublished && res.State != sdk.PublishFailed {
			return nil
		}
		cp := *res
		ws := string(ch.WorkspaceID)
		tx.AfterCommit(func() {
			ctx, cancel := context.WithTimeout(SystemContext(context.WithoutCancel(ctx), ws), 10*time.Second)
			defer cancel()
			if err := s.Outcome(ctx, ch.ID, &cp); err != nil {
				// The post.status job still follows the target.
				s.log().WarnContext(ctx, "publish: applying a publish webhook", "channel", ch.ID, "err", err)
			}
		})
		return nil
	}
}
