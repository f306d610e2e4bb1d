package publish_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/event"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/post"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// fakeRules: "fakegram" takes image posts (one JPEG/PNG up to 1 MB, at
// most 20 characters and 2 hashtags, an audience option) and offers
// (text required, a required cta option).
var fakeRules = []sdk.PlatformRules{{
	Platform: "fakegram",
	Publish: []sdk.PublishRule{
		{Format: "image", MaxTextLength: 20, MaxHashtags: 2, MinMedia: 1, MaxMedia: 1,
			Media:   []sdk.MediaRule{{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png"}, MaxBytes: 1 << 20}},
			Options: []sdk.OptionRule{{Name: "audience", Values: []string{"public", "friends"}}}},
		{Format: "offer", MaxTextLength: 50, TextRequired: true,
			Options: []sdk.OptionRule{{Name: "cta", Description: "the button", Required: true}}},
	},
}}

// fakeConn is a publishing connector whose answers the tests choose.
type fakeConn struct {
	sdk.UnimplementedConnector
	publishes atomic.Int64
	lookups   atomic.Int64
	mu        sync.Mutex
	publish   func(req *sdk.PublishRequest) (*sdk.PublishResult, error)
	status    func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error)
	validate  func(req *sdk.PublishRequest) error
}

func (c *fakeConn) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "fake", Platforms: []string{"fakegram"}, Rules: fakeRules}, nil
}

func (c *fakeConn) Publish(_ context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	c.publishes.Add(1)
	c.mu.Lock()
	f := c.publish
	c.mu.Unlock()
	if f != nil {
		return f(req)
	}
	return &sdk.PublishResult{ExternalID: "fg-" + req.IdempotencyKey, State: sdk.PublishPublished, URL: "https://fakegram.example/p/1"}, nil
}

func (c *fakeConn) PublishStatus(_ context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	c.lookups.Add(1)
	c.mu.Lock()
	f := c.status
	c.mu.Unlock()
	if f != nil {
		return f(req)
	}
	return nil, sdk.NewError(sdk.ClassUnsupported, "", "no lookup")
}

func (c *fakeConn) ValidatePost(_ context.Context, req *sdk.PublishRequest) error {
	if c.validate != nil {
		return c.validate(req)
	}
	return nil
}

func (c *fakeConn) set(f func(c *fakeConn)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

type connectors struct{ c *fakeConn }

func (g connectors) Get(string) (sdk.Connector, error) { return g.c, nil }
func (g connectors) Info(string) (connector.Info, error) {
	return connector.Info{Name: "fake", Capabilities: []sdk.Capability{sdk.CapPublish, sdk.CapValidatePost}, Rules: fakeRules}, nil
}

type mediaURLs struct{ public bool }

func (m mediaURLs) URL(id pulid.ID) string { return "https://neksio.example.com/media/" + string(id) }
func (m mediaURLs) PublicHost() bool       { return m.public }

type bundle struct {
	store  *store.Store
	svc    *publish.Service
	conn   *fakeConn
	ch     *ent.Channel
	ws     string
	owner  context.Context
	admin  context.Context
	agent  context.Context
	sys    context.Context
	dialec storetest.Dialect
}

func newBundle(t *testing.T, d storetest.Dialect) *bundle {
	t.Helper()
	s := storetest.Open(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	conn := &fakeConn{}
	channels := &channel.Service{Store: s, Box: box, Gateway: connectors{conn}}
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "cafe")
	require.NoError(t, err)
	b := &bundle{store: s, conn: conn, ws: string(ws.ID), dialec: d,
		owner: tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleOwner, "key_owner", "")),
		admin: tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAdmin, "key_admin", "")),
		agent: tenant.NewContext(ctx, tenant.Member(string(ws.ID), tenant.RoleAgent, "key_agent", "")),
		sys:   publish.SystemContext(ctx, string(ws.ID)),
	}
	b.ch, err = channels.Connect(b.owner, channel.ConnectInput{Connector: "fake", ExternalID: "fg1", Name: "Shop", Platform: "fakegram",
		Credentials: map[string]any{"accessToken": "t"}})
	require.NoError(t, err)
	b.svc = &publish.Service{Store: s, Connectors: connectors{conn}, Channels: channels, Media: mediaURLs{public: true}}
	return b
}

func (b *bundle) media(t *testing.T, mime string, size int64) pulid.ID {
	t.Helper()
	m, err := b.store.Ent.Media.Create().SetKind("IMAGE").SetMimeType(mime).SetSize(size).SetSha256("x").
		SetStorageKey("k").Save(b.agent)
	require.NoError(t, err)
	return m.ID
}

func requireInvalid(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, code, ae.Code, ae.Message)
	require.Equal(t, field, ae.Field, ae.Message)
}

func TestValidation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		png := b.media(t, "image/png", 1000)
		gif := b.media(t, "image/gif", 1000)
		huge := b.media(t, "image/png", 2<<20)
		img := []publish.MediaInput{{MediaID: png}}
		target := func(opts map[string]string) []publish.TargetInput {
			return []publish.TargetInput{{ChannelID: b.ch.ID, Options: opts}}
		}
		cases := []struct {
			name  string
			in    publish.PostInput
			code  apperr.Code
			field string
		}{
			{"text over the limit", publish.PostInput{Text: strings.Repeat("é", 21), Media: img, Targets: target(nil)}, apperr.CodeBadUserInput, "text"},
			{"target text over the limit", publish.PostInput{Media: img, Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Text: ptr(strings.Repeat("a", 21))}}}, apperr.CodeBadUserInput, "targets[0].text"},
			{"three hashtags", publish.PostInput{Text: "#a #b #c", Media: img, Targets: target(nil)}, apperr.CodeBadUserInput, "text"},
			{"no media", publish.PostInput{Text: "hi", Targets: target(map[string]string{"format": "image"})}, apperr.CodeBadUserInput, "media"},
			{"two media", publish.PostInput{Text: "hi", Media: []publish.MediaInput{{MediaID: png}, {MediaID: png}}, Targets: target(map[string]string{"format": "image"})}, apperr.CodeBadUserInput, "media"},
			{"a GIF", publish.PostInput{Text: "hi", Media: []publish.MediaInput{{MediaID: gif}}, Targets: target(nil)}, apperr.CodeBadUserInput, "media[0]"},
			{"too large", publish.PostInput{Text: "hi", Media: []publish.MediaInput{{MediaID: huge}}, Targets: target(nil)}, apperr.CodeBadUserInput, "media[0]"},
			{"unknown media", publish.PostInput{Text: "hi", Media: []publish.MediaInput{{MediaID: pulid.New("med")}}, Targets: target(nil)}, apperr.CodeNotFound, "media[0].mediaId"},
			{"loopback URL", publish.PostInput{Text: "hi", Media: []publish.MediaInput{{URL: "http://127.0.0.1/a.png"}}, Targets: target(nil)}, apperr.CodeBadUserInput, "media[0].url"},
			{"URL of no known type", publish.PostInput{Text: "hi", Media: []publish.MediaInput{{URL: "https://cdn.example.com/a"}}, Targets: target(nil)}, apperr.CodeBadUserInput, "media[0].url"},
			{"unknown format", publish.PostInput{Text: "hi", Media: img, Targets: target(map[string]string{"format": "story"})}, apperr.CodeBadUserInput, "targets[0].options.format"},
			{"unknown option", publish.PostInput{Text: "hi", Media: img, Targets: target(map[string]string{"color": "red"})}, apperr.CodeBadUserInput, "targets[0].options.color"},
			{"value not allowed", publish.PostInput{Text: "hi", Media: img, Targets: target(map[string]string{"audience": "everyone"})}, apperr.CodeBadUserInput, "targets[0].options.audience"},
			{"required option missing", publish.PostInput{Text: "hi", Targets: target(map[string]string{"format": "offer"})}, apperr.CodeBadUserInput, "targets[0].options.cta"},
			{"text required", publish.PostInput{Targets: target(map[string]string{"format": "offer", "cta": "BOOK"})}, apperr.CodeBadUserInput, "text"},
			{"channel twice", publish.PostInput{Text: "hi", Media: img, Targets: []publish.TargetInput{{ChannelID: b.ch.ID}, {ChannelID: b.ch.ID}}}, apperr.CodeBadUserInput, "targets[1].channelId"},
			{"unknown channel", publish.PostInput{Text: "hi", Targets: []publish.TargetInput{{ChannelID: pulid.New("ch")}}}, apperr.CodeNotFound, "targets[0].channelId"},
			{"in the past", publish.PostInput{Text: "hi", Media: img, Targets: target(nil), ScheduledAt: ptr(time.Now().Add(-time.Second))}, apperr.CodeBadUserInput, "scheduledAt"},
		}
		for _, c := range cases {
			_, err := b.svc.Create(b.agent, c.in)
			requireInvalid(t, err, c.code, c.field)
		}

		// The format follows the media: no media picks the offer.
		p, err := b.svc.Create(b.agent, publish.PostInput{Text: "hi", Targets: target(map[string]string{"cta": "BOOK"})})
		require.NoError(t, err)
		tg := p.QueryTargets().OnlyX(b.agent)
		require.Equal(t, "offer", tg.Format)

		// The connector's own rule.
		b.conn.validate = func(*sdk.PublishRequest) error {
			return sdk.NewError(sdk.ClassPermanent, "", "unaudited apps post privately")
		}
		_, err = b.svc.Create(b.agent, publish.PostInput{Text: "hi", Media: img, Targets: target(nil)})
		requireInvalid(t, err, apperr.CodeBadUserInput, "targets[0]")
		require.Contains(t, err.Error(), "unaudited apps post privately")
		b.conn.validate = nil

		// Uploaded media need a public URL, unless the connector allows private hosts.
		b.svc.Media = mediaURLs{public: false}
		_, err = b.svc.Create(b.agent, publish.PostInput{Text: "hi", Media: img, Targets: target(nil)})
		requireInvalid(t, err, apperr.CodeBadUserInput, "media[0]")
		b.svc.Media = mediaURLs{public: true}

		// A disconnected channel.
		require.NoError(t, b.store.Ent.Channel.UpdateOneID(b.ch.ID).SetStatus(entchannel.StatusDisconnected).Exec(b.owner))
		_, err = b.svc.Create(b.agent, publish.PostInput{Text: "hi", Media: img, Targets: target(nil)})
		requireInvalid(t, err, apperr.CodeBadUserInput, "targets[0].channelId")

		require.Equal(t, 1, b.store.Ent.Post.Query().CountX(b.agent), "only the valid post was stored")
		require.Zero(t, storetest.CountJobs(t, b.store.DB, "post.publish"))
	})
}

func ptr[T any](v T) *T { return &v }

// approved creates a post and gets it approved; it returns the post and
// its target's generation.
func (b *bundle) approved(t *testing.T, text string) (*ent.Post, *ent.PostTarget) {
	t.Helper()
	p, err := b.svc.Create(b.agent, publish.PostInput{Text: text, Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Options: map[string]string{"cta": "GO"}}}})
	require.NoError(t, err)
	_, err = b.svc.Submit(b.agent, p.ID, "")
	require.NoError(t, err)
	p, err = b.svc.Approve(b.admin, p.ID, "ok")
	require.NoError(t, err)
	require.Equal(t, post.StatusPublishing, p.Status)
	return p, p.QueryTargets().OnlyX(b.sys)
}

func (b *bundle) target(t *testing.T, id pulid.ID) *ent.PostTarget {
	t.Helper()
	tg, err := b.store.Ent.PostTarget.Get(b.sys, id)
	require.NoError(t, err)
	return tg
}

// retryPostTarget answers with the target as it committed it (PENDING),
// even when its job has taken the target by the time the answer is read
// (TestPublishRetriesAndFailures once saw PUBLISHING on PostgreSQL). The
// job is played here by a commit hook that moves the target on; the
// answer's edges still load after the transaction.
func TestRetryTargetAnswersWhatItCommitted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		_, tg := b.approved(t, "retry me")
		b.store.Ent.PostTarget.UpdateOneID(tg.ID).SetStatus(posttarget.StatusFailed).SetErrorCode("permanent").ExecX(b.sys)
		var armed atomic.Bool
		b.store.OnCommitted(func([]event.Event) {
			if armed.CompareAndSwap(true, false) {
				b.store.Ent.PostTarget.UpdateOneID(tg.ID).SetStatus(posttarget.StatusPublishing).AddAttempts(1).ExecX(b.sys)
			}
		})
		armed.Store(true)
		retried, err := b.svc.RetryTarget(b.admin, tg.ID)
		require.NoError(t, err)
		require.False(t, armed.Load(), "the hook ran after the commit")
		require.Equal(t, posttarget.StatusPublishing, b.target(t, tg.ID).Status, "the job took the target meanwhile")
		require.Equal(t, posttarget.StatusPending, retried.Status)
		require.Equal(t, tg.Generation+1, retried.Generation)
		require.Equal(t, tg.Attempts, retried.Attempts)
		require.Empty(t, retried.ErrorCode)
		ch, err := retried.QueryChannel().Only(b.sys)
		require.NoError(t, err)
		require.Equal(t, b.ch.ID, ch.ID)
	})
}

// Approving is a guarded transition: of two admins approving at once, one
// wins; the other gets CONFLICT and nothing is queued twice.
func TestApproveOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		p, err := b.svc.Create(b.agent, publish.PostInput{Text: "hi", Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Options: map[string]string{"cta": "GO"}}}})
		require.NoError(t, err)
		_, err = b.svc.Approve(b.admin, p.ID, "")
		requireInvalid(t, err, apperr.CodeConflict, "")
		_, err = b.svc.Submit(b.agent, p.ID, "")
		require.NoError(t, err)
		_, err = b.svc.Approve(b.agent, p.ID, "")
		require.ErrorIs(t, err, tenant.ErrForbidden)

		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				ctx := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_admin"+string(rune('a'+i)), ""))
				_, errs[i] = b.svc.Approve(ctx, p.ID, "")
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				requireInvalid(t, err, apperr.CodeConflict, "")
			}
		}
		require.Equal(t, 1, ok)
		require.Equal(t, 1, storetest.CountJobs(t, b.store.DB, "post.publish"))

		// Only an owner approves their own post.
		mine, err := b.svc.Create(b.admin, publish.PostInput{Text: "mine", Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Options: map[string]string{"cta": "GO"}}}})
		require.NoError(t, err)
		_, err = b.svc.Submit(b.admin, mine.ID, "")
		require.NoError(t, err)
		_, err = b.svc.Approve(b.admin, mine.ID, "")
		requireInvalid(t, err, apperr.CodeForbidden, "")
		// A person is the same author by session or by their API key.
		bySession := tenant.NewContext(context.Background(), tenant.SessionMember(b.ws, tenant.RoleAdmin, "usr_1", "ses_1"))
		byKey := tenant.NewContext(context.Background(), tenant.Member(b.ws, tenant.RoleAdmin, "key_of_usr_1", "usr_1"))
		theirs, err := b.svc.Create(bySession, publish.PostInput{Text: "theirs", Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Options: map[string]string{"cta": "GO"}}}})
		require.NoError(t, err)
		require.Equal(t, "user:usr_1", theirs.Author)
		_, err = b.svc.Submit(bySession, theirs.ID, "")
		require.NoError(t, err)
		_, err = b.svc.Approve(byKey, theirs.ID, "")
		requireInvalid(t, err, apperr.CodeForbidden, "")
		own, err := b.svc.Create(b.owner, publish.PostInput{Text: "own", Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Options: map[string]string{"cta": "GO"}}}})
		require.NoError(t, err)
		_, err = b.svc.Submit(b.owner, own.ID, "")
		require.NoError(t, err)
		_, err = b.svc.Approve(b.owner, own.ID, "")
		require.NoError(t, err)
	})
}

// The target state machine: published once with the platform's id; a run
// that finds its target PUBLISHING (a crash mid-call) asks the platform
// first and publishes again only on "not found"; an inconclusive lookup
// fails the target instead of posting twice.
func TestTargetStateMachine(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)

		p, tg := b.approved(t, "first")
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		got := b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusPublished, got.Status)
		require.Equal(t, "fg-"+string(tg.ID), got.ExternalID)
		require.Equal(t, 1, got.Attempts)
		require.Equal(t, post.StatusPublished, b.store.Ent.Post.GetX(b.sys, p.ID).Status)
		// Run again (a duplicate delivery of the job): nothing happens.
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		require.EqualValues(t, 1, b.conn.publishes.Load())
		// An older generation's job does nothing either.
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation-1))

		crashed := func(text string) *ent.PostTarget {
			_, tg := b.approved(t, text)
			require.NoError(t, b.store.Ent.PostTarget.UpdateOneID(tg.ID).SetStatus(posttarget.StatusPublishing).
				SetPublishingStartedAt(time.Now().Add(-time.Minute)).AddAttempts(1).Exec(b.sys))
			return tg
		}

		// Found at the platform: recorded, not published again.
		tg = crashed("found")
		b.conn.set(func(c *fakeConn) {
			c.status = func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
				require.Empty(t, req.ExternalID)
				require.Equal(t, string(tg.ID), req.IdempotencyKey)
				require.Equal(t, "found", req.Post.Text)
				require.False(t, req.Since.IsZero())
				return &sdk.PublishResult{ExternalID: "fg-found", State: sdk.PublishPublished}, nil
			}
		})
		before := b.conn.publishes.Load()
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		got = b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusPublished, got.Status)
		require.Equal(t, "fg-found", got.ExternalID)
		require.Equal(t, before, b.conn.publishes.Load(), "not published again")

		// Not found: published again, the attempt counted.
		tg = crashed("missing")
		b.conn.set(func(c *fakeConn) {
			c.status = func(*sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
				return &sdk.PublishResult{State: sdk.PublishNotFound}, nil
			}
		})
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		got = b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusPublished, got.Status)
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, before+1, b.conn.publishes.Load())

		// Inconclusive: FAILED with a message, nothing published.
		tg = crashed("unknown")
		b.conn.set(func(c *fakeConn) {
			c.status = func(*sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
				return nil, sdk.NewError(sdk.ClassPermanent, "", "cannot look posts up")
			}
		})
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		got = b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusFailed, got.Status)
		require.Contains(t, got.ErrorMessage, "interrupted")
		require.Contains(t, got.ErrorMessage, "cannot look posts up")
		require.NotNil(t, got.FailedAt)
		require.Equal(t, before+1, b.conn.publishes.Load())
		require.Equal(t, post.StatusFailed, b.store.Ent.Post.GetX(b.sys, got.PostID).Status)

		// No answer at all: the target stays PUBLISHING and the next run looks up.
		_, tg = b.approved(t, "timeout")
		b.conn.set(func(c *fakeConn) {
			c.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) { return nil, errors.New("connection reset") }
			c.status = func(*sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
				return &sdk.PublishResult{ExternalID: "fg-timeout", State: sdk.PublishPublished}, nil
			}
		})
		err := b.svc.Publish(b.sys, tg.ID, tg.Generation)
		var re *apperr.Transient
		require.ErrorAs(t, err, &re)
		require.Equal(t, posttarget.StatusPublishing, b.target(t, tg.ID).Status)
		lookups := b.conn.lookups.Load()
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		require.Equal(t, lookups+1, b.conn.lookups.Load())
		require.Equal(t, "fg-timeout", b.target(t, tg.ID).ExternalID)

		// Refused with a Retry-After: back to PENDING, retried after it; on
		// the last run FAILED with the platform's message.
		_, tg = b.approved(t, "limited")
		b.conn.set(func(c *fakeConn) {
			c.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) {
				return nil, &sdk.Error{Class: sdk.ClassRetryable, Code: "4", Message: "rate limited", RetryAfter: 7 * time.Second}
			}
		})
		err = b.svc.Publish(b.sys, tg.ID, tg.Generation)
		require.ErrorAs(t, err, &re)
		require.Equal(t, 7*time.Second, re.RetryAfter)
		require.Equal(t, posttarget.StatusPending, b.target(t, tg.ID).Status)
		require.Nil(t, b.target(t, tg.ID).FailedAt, "not FAILED: no failed_at")
		beforeFail := time.Now().Truncate(time.Second)
		require.NoError(t, b.svc.PublishLastAttempt(b.sys, tg.ID, tg.Generation))
		got = b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusFailed, got.Status)
		require.Equal(t, "rate limited", got.ErrorMessage)
		require.Equal(t, "retryable:4", got.ErrorCode)
		// failed_at (what analytics counts POSTS_FAILED at) is set in the
		// update that makes it FAILED.
		require.NotNil(t, got.FailedAt)
		require.False(t, got.FailedAt.Before(beforeFail))

		// retryPostTarget queues it again under a new generation.
		_, err = b.svc.RetryTarget(b.agent, tg.ID)
		require.ErrorIs(t, err, tenant.ErrForbidden)
		b.conn.set(func(c *fakeConn) { c.publish = nil })
		retried, err := b.svc.RetryTarget(b.admin, tg.ID)
		require.NoError(t, err)
		require.Equal(t, posttarget.StatusPending, retried.Status)
		require.Nil(t, retried.FailedAt, "a retried target is no longer failed")
		require.Nil(t, b.target(t, tg.ID).FailedAt)
		require.Equal(t, post.StatusPublishing, b.store.Ent.Post.GetX(b.sys, retried.PostID).Status)
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation), "the old generation does nothing")
		require.Equal(t, posttarget.StatusPending, b.target(t, tg.ID).Status)
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, retried.Generation))
		require.Equal(t, posttarget.StatusPublished, b.target(t, tg.ID).Status)

		// Asynchronous: the platform's id is recorded with a post.status job;
		// the status check settles it.
		_, tg = b.approved(t, "async")
		b.conn.set(func(c *fakeConn) {
			c.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) {
				return &sdk.PublishResult{ExternalID: "container-1", State: sdk.PublishProcessing}, nil
			}
			c.status = func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
				require.Equal(t, "container-1", req.ExternalID)
				return &sdk.PublishResult{ExternalID: "media-1", State: sdk.PublishPublished}, nil
			}
		})
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		got = b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusPublishing, got.Status)
		require.Equal(t, "container-1", got.ExternalID)
		require.Equal(t, 1, storetest.CountJobs(t, b.store.DB, "post.status"))
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation), "a rescued publish job leaves it to the status job")
		require.NoError(t, b.svc.Status(b.sys, tg.ID, tg.Generation, "container-1"))
		require.Equal(t, "media-1", b.target(t, tg.ID).ExternalID)
		require.Equal(t, posttarget.StatusPublished, b.target(t, tg.ID).Status)
	})
}

// A platform that keeps answering "retry later" backs off with its
// Retry-After (never sooner than the job backoff), for a bounded number of
// runs, then the target is FAILED with the platform's message.
func TestPublishWorkerRetryAfter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.conn.set(func(c *fakeConn) {
			c.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) {
				return nil, &sdk.Error{Class: sdk.ClassRetryable, Code: "32", Message: "page request limit reached", RetryAfter: time.Second}
			}
		})
		_, tg := b.approved(t, "busy")
		var drv riverdriver.Driver[*sql.Tx]
		var db *sql.DB
		if d == storetest.SQLite { // one connection: River's rows live elsewhere
			r := storetest.Open(t, storetest.SQLite)
			drv, db = r.Driver, r.DB
		} else {
			drv, db = b.store.Driver, b.store.DB
		}
		w := rivertest.NewWorker(t, drv, &river.Config{}, &jobs.PostPublishWorker{Publish: b.svc})
		tx, err := db.Begin()
		require.NoError(t, err)
		defer tx.Rollback() //nolint:errcheck
		ctx := context.Background()
		res, err := w.Work(ctx, t, tx, jobargs.PostPublish{WorkspaceID: b.ws, TargetID: string(tg.ID), Generation: tg.Generation}, nil)
		require.NoError(t, err)
		var waits []time.Duration
		for res.EventKind == river.EventKindJobSnoozed && len(waits) < 50 {
			waits = append(waits, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt))
			res, err = w.WorkJob(ctx, t, tx, res.Job)
			require.NoError(t, err)
		}
		maxAttempts := jobargs.PostPublish{}.InsertOpts().MaxAttempts
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.Len(t, waits, maxAttempts-1)
		for i, w := range waits {
			require.GreaterOrEqual(t, w, time.Duration(1<<(i+1))*time.Second-time.Second, "wait after run %d", i+1)
		}
		got := b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusFailed, got.Status)
		require.Equal(t, "page request limit reached", got.ErrorMessage)
		require.EqualValues(t, maxAttempts, b.conn.publishes.Load())
	})
}

// Unscheduling bumps the generation: the scheduled job finds a newer one.
func TestUnscheduleAndCalendar(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		at := time.Date(2030, 3, 1, 23, 30, 0, 0, time.UTC)
		p, err := b.svc.Create(b.agent, publish.PostInput{Text: "later", ScheduledAt: &at,
			Targets: []publish.TargetInput{{ChannelID: b.ch.ID, Options: map[string]string{"cta": "GO"}}}})
		require.NoError(t, err)
		_, err = b.svc.Submit(b.agent, p.ID, "")
		require.NoError(t, err)
		p, err = b.svc.Approve(b.admin, p.ID, "")
		require.NoError(t, err)
		require.Equal(t, post.StatusScheduled, p.Status)
		tg := p.QueryTargets().OnlyX(b.sys)

		cal, err := b.svc.Calendar(b.agent, at.Add(-time.Hour), at.Add(time.Hour), "Europe/Paris")
		require.NoError(t, err)
		require.Len(t, cal, 1)
		require.Equal(t, "2030-03-02", cal[0].Date, "23:30 UTC is the next day in Paris")
		_, err = b.svc.Calendar(b.agent, at, at.Add(100*24*time.Hour), "UTC")
		requireInvalid(t, err, apperr.CodeBadUserInput, "to")

		client, err := river.NewClient(b.store.Driver, &river.Config{})
		require.NoError(t, err)
		b.svc.Jobs = client
		_, err = b.svc.Unschedule(b.admin, p.ID)
		require.NoError(t, err)
		var cancelled int
		require.NoError(t, b.store.DB.QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'post.publish' AND state = 'cancelled'`).Scan(&cancelled))
		require.Equal(t, 1, cancelled, "the scheduled job is cancelled")
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		require.Zero(t, b.conn.publishes.Load(), "the unscheduled job publishes nothing")
		p, err = b.svc.Schedule(b.admin, p.ID, nil)
		require.NoError(t, err)
		require.Equal(t, post.StatusPublishing, p.Status)
		require.Equal(t, 2, storetest.CountJobs(t, b.store.DB, "post.publish"))

		// A publishing post is not deleted; once published it is (from
		// Neksio only), with its targets and history.
		requireInvalid(t, b.svc.Delete(b.agent, p.ID), apperr.CodeConflict, "")
		tg = p.QueryTargets().OnlyX(b.sys)
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		require.NoError(t, b.svc.Delete(b.agent, p.ID))
		require.Zero(t, b.store.Ent.Post.Query().CountX(b.sys))
		require.Zero(t, b.store.Ent.PostTarget.Query().CountX(b.sys))
		require.Zero(t, b.store.Ent.PostEvent.Query().CountX(b.sys))
		requireInvalid(t, b.svc.Delete(b.agent, p.ID), apperr.CodeNotFound, "")
	})
}

// A platform's publish webhook (TikTok's publish completion) settles the
// target holding its id as soon as the webhook's transaction commits.
func TestPublishWebhookSettlesTarget(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.conn.set(func(c *fakeConn) {
			c.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) {
				return &sdk.PublishResult{ExternalID: "v_pub_1", State: sdk.PublishProcessing}, nil
			}
		})
		_, tg := b.approved(t, "video")
		require.NoError(t, b.svc.Publish(b.sys, tg.ID, tg.Generation))
		require.Equal(t, posttarget.StatusPublishing, b.target(t, tg.ID).Status)

		in := &inbox.Service{Store: b.store, OnPublish: b.svc.Hook()}
		ingest := func(res *sdk.PublishResult) {
			require.NoError(t, b.store.InTx(b.sys, func(tx *store.Tx) error {
				_, err := in.Ingest(b.sys, tx, b.ch, []*sdk.Event{{Kind: sdk.EventPublish, Publish: res}})
				return err
			}))
		}
		ingest(&sdk.PublishResult{ExternalID: "someone-else", State: sdk.PublishPublished})
		require.Equal(t, posttarget.StatusPublishing, b.target(t, tg.ID).Status, "another post's webhook changes nothing")
		ingest(&sdk.PublishResult{ExternalID: "v_pub_1", State: sdk.PublishPublished, URL: "https://tiktok.example/v/1"})
		got := b.target(t, tg.ID)
		require.Equal(t, posttarget.StatusPublished, got.Status)
		require.Equal(t, "https://tiktok.example/v/1", got.URL)
		require.Equal(t, post.StatusPublished, b.store.Ent.Post.GetX(b.sys, got.PostID).Status)
	})
}
