package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	coreconnector "github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/posttarget"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// publishers is core/publish's view of the platform: it publishes text
// posts on WhatsApp (the bundle's channel).
type publishers struct{ p *platform }

func (g publishers) Get(string) (sdk.Connector, error) { return g.p, nil }
func (g publishers) Info(string) (coreconnector.Info, error) {
	return coreconnector.Info{Name: "fake", Capabilities: []sdk.Capability{sdk.CapPublish},
		Rules: []sdk.PlatformRules{{Platform: "whatsapp", Publish: []sdk.PublishRule{{Format: "text", MaxTextLength: 100, TextRequired: true}}}}}, nil
}

type noMedia struct{}

func (noMedia) URL(id pulid.ID) string { return "https://neksio.example.com/media/" + string(id) }
func (noMedia) PublicHost() bool       { return true }

// publishing is core/publish's service on the bundle.
func publishing(b *bundle) (*publish.Service, *platform) {
	p := b.usePlatform(sdk.CapPublish)
	return &publish.Service{Store: b.store, Connectors: publishers{p}, Channels: b.inbox.Channels.(*channel.Service),
		Media: noMedia{}, StatusPoll: time.Minute}, p
}

// approvedTarget creates a post on the bundle's channel and approves it;
// its target is due to publish.
func approvedTarget(t *testing.T, b *bundle, svc *publish.Service, text string) *ent.PostTarget {
	t.Helper()
	p, err := svc.Create(b.member, publish.PostInput{Text: text, Targets: []publish.TargetInput{{ChannelID: b.ch.ID}}})
	require.NoError(t, err)
	_, err = svc.Submit(b.member, p.ID, "")
	require.NoError(t, err)
	p, err = svc.Approve(b.member, p.ID, "ok")
	require.NoError(t, err)
	return p.QueryTargets().OnlyX(publish.SystemContext(b.sys, b.ws))
}

func targetOf(t *testing.T, b *bundle, id pulid.ID) *ent.PostTarget {
	t.Helper()
	tg, err := b.store.Ent.PostTarget.Get(publish.SystemContext(b.sys, b.ws), id)
	require.NoError(t, err)
	return tg
}

func TestPostPublishWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		svc, p := publishing(b)
		r := newRunner(t, d, b, &jobs.PostPublishWorker{Publish: svc})
		argsOf := func(tg *ent.PostTarget) jobargs.PostPublish {
			return jobargs.PostPublish{WorkspaceID: b.ws, TargetID: string(tg.ID), Generation: tg.Generation}
		}

		p.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) { return nil, retryLater() }
		tg := approvedTarget(t, b, svc, "busy day")
		res := r.work(t, argsOf(tg), nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "after the platform's delay")
		require.NotEqual(t, posttarget.StatusFailed, targetOf(t, b, tg.ID).Status)

		// On the last run the failure is recorded on the target.
		tg = approvedTarget(t, b, svc, "still busy")
		requireCompleted(t, r.last(t, argsOf(tg)))
		got := targetOf(t, b, tg.ID)
		require.Equal(t, posttarget.StatusFailed, got.Status)
		require.Equal(t, "rate limited", got.ErrorMessage)
		require.NotNil(t, got.FailedAt, "analytics counts the failure at failed_at")

		p.publish = func(req *sdk.PublishRequest) (*sdk.PublishResult, error) {
			require.Equal(t, "hello world", req.Post.Text)
			return &sdk.PublishResult{ExternalID: "wa-post-1", State: sdk.PublishPublished, URL: "https://example.com/p/1"}, nil
		}
		tg = approvedTarget(t, b, svc, "hello world")
		requireCompleted(t, r.work(t, argsOf(tg), nil))
		got = targetOf(t, b, tg.ID)
		require.Equal(t, posttarget.StatusPublished, got.Status)
		require.Equal(t, "wa-post-1", got.ExternalID)
	})
}

func TestPostStatusWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		svc, p := publishing(b)
		pub := newRunner(t, d, b, &jobs.PostPublishWorker{Publish: svc})
		r := newRunner(t, d, b, &jobs.PostStatusWorker{Publish: svc})
		// processing publishes a post the platform is still processing.
		n := 0
		processing := func() jobargs.PostStatus {
			t.Helper()
			n++
			ext := "wa-async-" + string(rune('0'+n))
			p.publish = func(*sdk.PublishRequest) (*sdk.PublishResult, error) {
				return &sdk.PublishResult{ExternalID: ext, State: sdk.PublishProcessing}, nil
			}
			tg := approvedTarget(t, b, svc, "a video")
			requireCompleted(t, pub.work(t, jobargs.PostPublish{WorkspaceID: b.ws, TargetID: string(tg.ID), Generation: tg.Generation}, nil))
			require.Equal(t, posttarget.StatusPublishing, targetOf(t, b, tg.ID).Status)
			return jobargs.PostStatus{WorkspaceID: b.ws, TargetID: string(tg.ID), Generation: tg.Generation, ExternalID: ext}
		}

		args := processing()
		p.publishStatus = func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
			require.Equal(t, args.ExternalID, req.ExternalID)
			return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishProcessing}, nil
		}
		res := r.work(t, args, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), 59*time.Second, "polled again after StatusPoll")

		p.publishStatus = func(*sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
			return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "platform unavailable"}
		}
		requireRetried(t, r.work(t, args, nil), "platform unavailable")

		p.publishStatus = func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
			return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishPublished, URL: "https://example.com/v/1"}, nil
		}
		requireCompleted(t, r.work(t, args, nil))
		require.Equal(t, posttarget.StatusPublished, targetOf(t, b, pulid.ID(args.TargetID)).Status)

		// Still processing after the last check: FAILED, the job done.
		args = processing()
		p.publishStatus = func(req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
			return &sdk.PublishResult{ExternalID: req.ExternalID, State: sdk.PublishProcessing}, nil
		}
		requireCompleted(t, r.last(t, args))
		got := targetOf(t, b, pulid.ID(args.TargetID))
		require.Equal(t, posttarget.StatusFailed, got.Status)
		require.Equal(t, "permanent:timeout", got.ErrorCode)
		require.NotNil(t, got.FailedAt)
	})
}
