package ai_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/tenant"
)

// forbidden is an external provider that fails the test if called.
type forbidden struct{ t *testing.T }

func (f forbidden) Name() string { return "external" }
func (f forbidden) Embedder() ai.Embedder {
	f.t.Error("external embedder used without consent")
	return builtin.New().Embedder()
}
func (f forbidden) Chat(context.Context, ai.ChatRequest) (*ai.ChatResponse, error) {
	f.t.Error("external chat called without consent")
	return nil, errors.New("forbidden")
}
func (f forbidden) Answer(context.Context, ai.AnswerRequest) (*ai.Answer, error) {
	f.t.Error("external answer called without consent")
	return nil, errors.New("forbidden")
}
func (f forbidden) Sentiment(context.Context, string) (ai.Sentiment, error) {
	f.t.Error("external sentiment called without consent")
	return ai.Sentiment{}, errors.New("forbidden")
}

func TestChooserFailsClosed(t *testing.T) {
	t.Parallel()
	offline := builtin.New()
	allowed := map[string]bool{"ws_yes": true}
	c := ai.NewChooser(offline, forbidden{t}, func(_ context.Context, ws string) (bool, error) {
		if ws == "ws_down" {
			return false, errors.New("database down")
		}
		return allowed[ws], nil
	})
	member := func(ws string) context.Context {
		return tenant.NewContext(context.Background(), tenant.Member(ws, tenant.RoleOwner, "k", ""))
	}

	for _, ctx := range []context.Context{context.Background(), member("ws_no")} {
		p, err := ai.Resolve(ctx, c)
		require.NoError(t, err)
		require.Equal(t, "builtin", p.Name())
		// The chooser's own methods choose too.
		_, err = c.Sentiment(ctx, "great coffee")
		require.NoError(t, err)
		_, err = c.Embedder().Embed(ctx, []string{"hello"})
		require.NoError(t, err)
		_, err = c.Answer(ctx, ai.AnswerRequest{Question: "hours?", Passages: []ai.Passage{{ID: "1", Text: "Open 9 to 5."}}})
		require.NoError(t, err)
	}

	// A consent that cannot be read is an error (retried), never external.
	_, err := ai.Resolve(member("ws_down"), c)
	require.Error(t, err)
	require.True(t, ai.Retryable(err))

	p, err := ai.Resolve(member("ws_yes"), c)
	require.NoError(t, err)
	require.Equal(t, "external", p.Name())

	// Without an external provider, everyone gets the built-in one.
	p, err = ai.Resolve(member("ws_yes"), ai.NewChooser(offline, nil, nil))
	require.NoError(t, err)
	require.Equal(t, "builtin", p.Name())
}
