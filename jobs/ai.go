package jobs

import (
	"context"
	"github.com/neksio/neksio/core/store"
	"time"

	"github.com/riverqueue/river"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
)

// AIReplyWorker runs the agent on an inbound message.
type AIReplyWorker struct {
	river.WorkerDefaults[jobargs.AIReply]
	Agent *agent.Service
}

// Timeout leaves room for a slow (local, CPU-bound) model: retrieval, an
// answer and a sentiment call.
func (w *AIReplyWorker) Timeout(*river.Job[jobargs.AIReply]) time.Duration { return 5 * time.Minute }

// Work runs the agent once.
func (w *AIReplyWorker) Work(ctx context.Context, job *river.Job[jobargs.AIReply]) error {
	ctx = tenant.NewContext(ctx, tenant.System(job.Args.WorkspaceID, "ai.reply"))
	if lastRun(job.JobRow) {
		return retry(job.JobRow, w.Agent.RunLastAttempt(ctx, pulid.ID(job.Args.MessageID)))
	}
	// A rate-limited provider (an ai.Error classifies itself) is tried
	// again once its delay has passed; on the last run the agent hands
	// off instead.
	return retry(job.JobRow, w.Agent.Run(ctx, pulid.ID(job.Args.MessageID)))
}

// AgentDeps are what the AI workers need.
type AgentDeps struct {
	Agent     *agent.Service
	Knowledge KnowledgeIndexer
	Feedback  SentimentAnalyzer
	// Store is the database a conversation's sentiment job completes in.
	Store *store.Store
}

// RegisterAgent adds the agent, indexing and sentiment workers to ws.
func RegisterAgent(ws *river.Workers, d AgentDeps) {
	river.AddWorker(ws, &AIReplyWorker{Agent: d.Agent})
	river.AddWorker(ws, &KBIndexWorker{Knowledge: d.Knowledge})
	river.AddWorker(ws, &SentimentWorker{Feedback: d.Feedback, Store: d.Store})
}
