package publish_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/knowledge"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/jobs/jobargs"
	"github.com/neksio/neksio/plugins/sdk"
)

// chatModel is a chat-model provider (the built-in embedder, a scripted
// chat) that records what it was asked.
type chatModel struct {
	ai.Provider
	answer string
	asked  []ai.ChatRequest
}

func (m *chatModel) Name() string { return "openai" }
func (m *chatModel) Chat(_ context.Context, req ai.ChatRequest) (*ai.ChatResponse, error) {
	m.asked = append(m.asked, req)
	return &ai.ChatResponse{Content: m.answer, Model: "test-model"}, nil
}

// A chat model's variant is kept within the platform's limits (length
// with hashtags, hashtag count), cites only sources it was given, and is
// asked to use the brief and sources only, in the tone and language.
func TestGenerateWithChatModel(t *testing.T) {
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
		kb := &knowledge.Service{Store: b.store, Provider: builtin.New(), Vectors: vs}
		doc, err := kb.Add(b.admin, knowledge.DocumentInput{Title: "Menu", Content: "The pumpkin latte is back in October and costs 4.50 euros."})
		require.NoError(t, err)
		require.NoError(t, kb.IndexLastAttempt(b.sys, jobargs.KBIndex{WorkspaceID: b.ws, DocumentID: string(doc.ID), Version: doc.Version}))
		passages, _, err := kb.Retrieve(b.agent, "pumpkin latte")
		require.NoError(t, err)
		require.NotEmpty(t, passages)

		answer, _ := json.Marshal(map[string]any{"text": strings.Repeat("Pumpkin latte is back! ", 3),
			"hashtags": []string{"#pumpkin", "latte", "#a", "#b"}, "sources": []string{passages[0].ID, "invented-id"}})
		model := &chatModel{Provider: builtin.New(), answer: string(answer)}
		b.svc.Knowledge, b.svc.Provider = kb, model
		g, err := b.svc.Generate(b.agent, generateInput(b, "pumpkin latte is back"))
		require.NoError(t, err)
		require.Len(t, g.Variants, 1)
		v := g.Variants[0]
		// fakegram's first format (image): 20 characters, 2 hashtags.
		require.LessOrEqual(t, sdk.TextLength(v.Text), 20, v.Text)
		require.LessOrEqual(t, sdk.Hashtags(v.Text), 2)
		require.Len(t, g.Citations, 1, "only a source it was given is cited")
		require.Equal(t, passages[0].ID, string(g.Citations[0].ChunkID))
		require.Len(t, model.asked, 1)
		sys := model.asked[0].Messages[0].Content
		require.Contains(t, sys, "only facts from the brief and the sources")
		require.Contains(t, sys, "at most 20 characters")
		require.Contains(t, sys, "Tone: playful")
		require.Contains(t, sys, "language: fr")
		require.Contains(t, model.asked[0].Messages[1].Content, "4.50 euros")

		model.answer = "not json"
		_, err = b.svc.Generate(b.agent, generateInput(b, "pumpkin"))
		require.Error(t, err)
	})
}

func generateInput(b *bundle, brief string) publish.GenerateInput {
	return publish.GenerateInput{Brief: brief, ChannelIDs: []pulid.ID{b.ch.ID}, Tone: "playful", Language: "fr"}
}
