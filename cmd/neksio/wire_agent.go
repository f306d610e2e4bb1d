package main

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect"
	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/ai/openai"
	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/sentiment"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/jobs"
)

// The AI agent, the knowledge base and sentiment (docs/agent.md).
func wireAgent(ctx context.Context, a *App) error {
	external, err := newProvider(a.Cfg.AI)
	if err != nil {
		return err
	}
	// Every AI caller goes through the chooser: a workspace's data reaches
	// the external provider only when its aiProcessing allows it.
	provider := newChooser(a.Store, external)
	vectors, err := newVectorStore(ctx, a.Store, a.Cfg.Milvus)
	if err != nil {
		return err
	}
	a.OnClose = append(a.OnClose, func() { _ = vectors.Close() })
	a.Log.Info("AI configured", "external_provider", externalName(external), "embedding_model", provider.Embedder().Model(),
		"vectors", fmt.Sprintf("%T", vectors))

	kb := &knowledge.Service{Store: a.Store, Provider: provider, Vectors: vectors, Log: a.Log.With("component", "knowledge")}
	ag := &agent.Service{Store: a.Store, Inbox: a.Inbox, Knowledge: kb, Provider: provider, Log: a.Log.With("component", "agent")}
	fb := &sentiment.Service{Store: a.Store, Provider: provider, Log: a.Log.With("component", "feedback")}

	// With the built-in model a new message is scored as it is stored and
	// its conversation rolled up in the ingest's transaction; with an
	// external one ConversationHook queues the conversation's job. The
	// agent's hook runs after sentiment's.
	fb.Attach(a.Inbox)
	a.Inbox.OnInbound = append(a.Inbox.OnInbound, ag.Hook())
	a.Inbox.OnEdited = append(a.Inbox.OnEdited, fb.Hook())
	jobs.RegisterAgent(a.Workers, jobs.AgentDeps{Agent: ag, Knowledge: kb, Feedback: fb, Store: a.Store})
	a.GraphDeps.Knowledge = kb
	a.GraphDeps.Agent = ag
	return nil
}

// newChooser picks the provider per workspace: external (nil when none
// is configured) for workspaces whose aiProcessing is EXTERNAL_ALLOWED,
// the built-in offline provider for the others.
func newChooser(s *store.Store, external ai.Provider) *ai.Chooser {
	return ai.NewChooser(builtin.New(), external, func(ctx context.Context, ws string) (bool, error) {
		set, err := workspace.Get(tenant.NewContext(ctx, tenant.System(ws, "ai.consent")), s.Ent, ws)
		if err != nil {
			return false, err
		}
		return set.AIProcessing == workspace.AIExternalAllowed, nil
	})
}

func externalName(p ai.Provider) string {
	if p == nil {
		return "none"
	}
	return p.Name()
}

// newProvider is the OpenAI-compatible endpoint when NEKSIO_AI_* says so,
// else nil (the built-in offline provider serves everyone).
func newProvider(c config.AI) (ai.Provider, error) {
	if !c.Enabled() {
		return nil, nil
	}
	p, err := openai.New(openai.Config{BaseURL: c.BaseURL, APIKey: c.APIKey, ChatModel: c.ChatModel,
		EmbeddingModel: c.EmbeddingModel, EmbeddingDimension: c.EmbeddingDimension})
	if err != nil {
		return nil, fmt.Errorf("AI provider: %w", err)
	}
	return p, nil
}

// newVectorStore is Milvus when NEKSIO_MILVUS_ADDRESS is set, else the
// embedded store on the application's database (migrated here).
func newVectorStore(ctx context.Context, s *store.Store, c config.Milvus) (vector.Store, error) {
	if c.Address != "" {
		m, err := vector.NewMilvus(ctx, vector.MilvusConfig{Address: c.Address, Token: c.Token, DBName: c.DB,
			CollectionPrefix: c.CollectionPrefix, Consistency: c.Consistency, IndexType: c.IndexType, UsePartitionKey: c.PartitionKey})
		if err != nil {
			return nil, fmt.Errorf("vector store: %w", err)
		}
		return m, nil
	}
	d := vector.DialectSQLite
	if s.Dialect == dialect.Postgres {
		d = vector.DialectPostgres
	}
	e, err := vector.NewEmbedded(s.DB, d)
	if err != nil {
		return nil, fmt.Errorf("vector store: %w", err)
	}
	if err := e.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("vector store: %w", err)
	}
	return e, nil
}
