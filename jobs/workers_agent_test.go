package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/agentrun"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
)

// unavailable is an AI provider whose endpoint is down (no delay named).
type unavailable struct{ *builtin.Provider }

func (unavailable) Answer(context.Context, ai.AnswerRequest) (*ai.Answer, error) {
	return nil, &ai.Error{Kind: ai.KindTransient, Provider: "test", Op: "answer", StatusCode: 503}
}

func (unavailable) Chat(context.Context, ai.ChatRequest) (*ai.ChatResponse, error) {
	return nil, &ai.Error{Kind: ai.KindTransient, Provider: "test", Op: "chat", StatusCode: 503}
}

func (unavailable) Sentiment(context.Context, string) (ai.Sentiment, error) {
	return ai.Sentiment{}, &ai.Error{Kind: ai.KindTransient, Provider: "test", Op: "sentiment", StatusCode: 503}
}

func TestAIReplyWorker(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		engine := builtin.New()
		svc := newAgent(t, b, engine)
		in := b.inbound(t, "When do you open?")
		r := newRunner(t, d, b, &jobs.AIReplyWorker{Agent: svc})
		args := jobargs.AIReply{WorkspaceID: b.ws, MessageID: string(in.ID)}
		use := func(p ai.Provider) { svc.Provider, svc.Knowledge.Provider = p, p }
		runs := func() []*ent.AgentRun {
			t.Helper()
			got, err := b.store.Ent.AgentRun.Query().Where(agentrun.MessageID(in.ID)).All(b.sys)
			require.NoError(t, err)
			return got
		}

		// Rate limited: run again after the provider's delay; nothing is
		// recorded until the agent decides.
		use(rateLimited{engine})
		res := r.work(t, args, nil)
		requireSnoozed(t, res)
		require.GreaterOrEqual(t, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt), time.Second, "not sooner than the backoff")
		require.Empty(t, runs())

		// Down, with no delay named: River's retry.
		use(unavailable{engine})
		requireRetried(t, r.work(t, args, nil), "transient")
		require.Empty(t, runs())

		use(engine)
		requireCompleted(t, r.work(t, args, nil))
		got := runs()
		require.Len(t, got, 1, "the agent ran once")
		require.NotEqual(t, agentrun.DecisionHandedOff, got[0].Decision, "answered from the knowledge base: %s", got[0].Reason)

		// A second job for the same message does nothing.
		requireCompleted(t, r.work(t, args, nil))
		require.Len(t, runs(), 1)
	})
}
