package jobs_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/ent/agentrun"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/jobs"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// workUntilDone works job with w until River stops rescheduling it, at
// most limit times, and returns the last result and the delay River
// scheduled after each run before the last.
func workUntilDone[T river.JobArgs](t *testing.T, w *rivertest.Worker[T, *sql.Tx], tx *sql.Tx, args T, limit int) (*rivertest.WorkResult, []time.Duration) {
	t.Helper()
	ctx := context.Background()
	res, err := w.Work(ctx, t, tx, args, nil)
	require.NoError(t, err)
	var waits []time.Duration
	// A snooze is a retry after a delay; each is one more run.
	for res.EventKind == river.EventKindJobSnoozed && len(waits) < limit {
		waits = append(waits, res.Job.ScheduledAt.Sub(*res.Job.AttemptedAt))
		res, err = w.WorkJob(ctx, t, tx, res.Job)
		require.NoError(t, err)
	}
	return res, waits
}

// requireBackoff checks that a one-second retry-after did not make runs
// come every second: the n-th wait is at least 2^n seconds.
func requireBackoff(t *testing.T, waits []time.Duration) {
	t.Helper()
	for i, w := range waits {
		require.GreaterOrEqual(t, w, time.Duration(1<<(i+1))*time.Second-time.Second, "wait after run %d", i+1)
	}
}

// A crash-looping connector answers "down and restarting, retry in a
// second" (core/connector) to every send. River's snoozes give the attempt
// back, so the reply used to snooze forever and stay PENDING; now each
// snooze counts, and after the last attempt the reply is FAILED and its
// conversation handed to a person.
func TestOutboundRetryAfterEndsAfterLastAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		b.conn.send = func(int64, *sdk.SendRequest) (*sdk.SendResult, error) {
			return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: "connector fake is down and restarting", RetryAfter: time.Second}
		}
		reply := b.reply(t)

		drv, db := riverDB(t, b, d)
		w := rivertest.NewWorker(t, drv, &river.Config{}, &jobs.OutboundWorker{Inbox: b.inbox})
		tx, err := db.Begin()
		require.NoError(t, err)
		defer tx.Rollback() //nolint:errcheck
		maxAttempts := jobargs.OutboundDeliver{}.InsertOpts().MaxAttempts
		res, waits := workUntilDone(t, w, tx, jobargs.OutboundDeliver{WorkspaceID: b.ws, MessageID: string(reply.ID)}, 5*maxAttempts)

		require.Equal(t, river.EventKindJobCompleted, res.EventKind, "the job ends after its last attempt (%d runs)", len(waits)+1)
		require.Len(t, waits, maxAttempts-1, "runs")
		requireBackoff(t, waits)
		require.EqualValues(t, maxAttempts, b.conn.calls.Load())
		got := b.message(t, string(reply.ID))
		require.Equal(t, message.DeliveryStatusFailed, got.DeliveryStatus)
		require.Equal(t, "retryable", got.ErrorCode)
		require.Contains(t, handedOff(t, b, got), "down and restarting")
	})
}

// rateLimited is an AI provider that always answers "rate limited, retry
// in a second"; it embeds like the built-in one so documents index.
type rateLimited struct{ *builtin.Provider }

func (p rateLimited) err(op string) error {
	return &ai.Error{Kind: ai.KindRateLimited, Provider: "test", Op: op, StatusCode: 429, RetryAfter: time.Second}
}

func (p rateLimited) Chat(context.Context, ai.ChatRequest) (*ai.ChatResponse, error) {
	return nil, p.err("chat")
}

func (p rateLimited) Answer(context.Context, ai.AnswerRequest) (*ai.Answer, error) {
	return nil, p.err("answer")
}

func (p rateLimited) Sentiment(context.Context, string) (ai.Sentiment, error) {
	return ai.Sentiment{}, p.err("sentiment")
}

// The agent's job, facing a provider that is rate-limited forever, used to
// snooze forever; now it hands the conversation to a person after its last
// attempt and records the run.
func TestAIReplyRetryAfterEndsAfterLastAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		b := newBundle(t, d)
		ctx := context.Background()
		vd := vector.DialectSQLite
		if b.store.Dialect == dialect.Postgres {
			vd = vector.DialectPostgres
		}
		vs, err := vector.NewEmbedded(b.store.DB, vd)
		require.NoError(t, err)
		require.NoError(t, vs.Migrate(ctx))
		provider := rateLimited{builtin.New()}
		kb := &knowledge.Service{Store: b.store, Provider: provider, Vectors: vs}
		doc, err := kb.Add(b.member, knowledge.DocumentInput{Title: "Hours", Content: "We open at 9am every day."})
		require.NoError(t, err)
		require.NoError(t, kb.Index(b.sys, jobargs.KBIndex{WorkspaceID: b.ws, DocumentID: string(doc.ID), Version: doc.Version}))
		require.NoError(t, b.store.Ent.Channel.UpdateOneID(b.ch.ID).SetAiMode(entchannel.AiModeAuto).Exec(b.sys))
		in := b.inbound(t, "When do you open?")

		drv, db := riverDB(t, b, d)
		w := rivertest.NewWorker(t, drv, &river.Config{},
			&jobs.AIReplyWorker{Agent: &agent.Service{Store: b.store, Inbox: b.inbox, Knowledge: kb, Provider: provider}})
		tx, err := db.Begin()
		require.NoError(t, err)
		defer tx.Rollback() //nolint:errcheck
		maxAttempts := jobargs.AIReply{}.InsertOpts().MaxAttempts
		res, waits := workUntilDone(t, w, tx, jobargs.AIReply{WorkspaceID: b.ws, MessageID: string(in.ID)}, 5*maxAttempts)

		require.Equal(t, river.EventKindJobCompleted, res.EventKind, "the job ends after its last attempt (%d runs)", len(waits)+1)
		require.Len(t, waits, maxAttempts-1, "runs")
		requireBackoff(t, waits)
		run, err := b.store.Ent.AgentRun.Query().Where(agentrun.MessageID(in.ID)).Only(tenant.NewContext(ctx, tenant.System(b.ws, "test")))
		require.NoError(t, err)
		require.Equal(t, agentrun.DecisionHandedOff, run.Decision)
		require.Contains(t, run.Reason, "AI provider failed")
		require.Contains(t, handedOff(t, b, in), "AI provider failed")
	})
}
