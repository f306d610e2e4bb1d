package ai

import (
	"context"
	"fmt"

	"github.com/neksio/neksio/core/tenant"
)

// Consent reports whether workspace workspaceID allowed its data to be
// processed by an external provider (its aiProcessing setting is
// EXTERNAL_ALLOWED). cmd/neksio wires it to the workspace settings.
type Consent func(ctx context.Context, workspaceID string) (bool, error)

// Chooser is the one place that decides, per workspace, which provider
// may see its data: External only when the workspace of the calling
// viewer opted in (Allowed), Builtin otherwise. Every AI caller (the
// agent, sentiment, post generation, the knowledge base's embeddings and
// answers) holds the Chooser as its Provider and calls [Resolve] once per
// operation, so one operation uses one provider throughout (an answer's
// model name, a vector's space and the embedding itself agree).
//
// It is also a Provider itself, choosing on every call, so a caller that
// forgot Resolve still cannot reach External without consent. Without a
// workspace viewer, without External or without Allowed it is Builtin:
// the decision fails closed.
type Chooser struct {
	Builtin Provider
	// External is the configured external provider; nil when none is.
	External Provider
	Allowed  Consent
}

// NewChooser returns a Chooser; external may be nil.
func NewChooser(builtin, external Provider, allowed Consent) *Chooser {
	return &Chooser{Builtin: builtin, External: external, Allowed: allowed}
}

// For returns the provider the viewer of ctx may use. An error reading
// the consent is returned (retryable), never turned into External.
func (c *Chooser) For(ctx context.Context) (Provider, error) {
	if c.External == nil || c.Allowed == nil {
		return c.Builtin, nil
	}
	v := tenant.FromContext(ctx)
	if v == nil || v.WorkspaceID == "" {
		return c.Builtin, nil
	}
	ok, err := c.Allowed(ctx, v.WorkspaceID)
	if err != nil {
		return nil, &Error{Kind: KindTransient, Provider: "chooser", Op: "consent", Err: fmt.Errorf("reading the workspace's AI setting: %w", err)}
	}
	if ok {
		return c.External, nil
	}
	return c.Builtin, nil
}

// Resolve returns the concrete provider an operation of the viewer of ctx
// uses: p itself, or what p chooses when it is a [Chooser].
func Resolve(ctx context.Context, p Provider) (Provider, error) {
	if c, ok := p.(*Chooser); ok {
		return c.For(ctx)
	}
	return p, nil
}

// Name is the built-in provider's: the name of what a workspace gets
// without consent. Use Resolve to learn what an operation used.
func (c *Chooser) Name() string { return c.Builtin.Name() }

// Embedder embeds with the provider of each call's viewer. Its Model is
// the built-in one's; callers that store vectors Resolve first, so the
// model they record is the one that embedded.
func (c *Chooser) Embedder() Embedder { return chooserEmbedder{c} }

// Chat implements Provider.
func (c *Chooser) Chat(ctx context.Context, req ChatRequest) (*ChatResponse, error) {
	p, err := c.For(ctx)
	if err != nil {
		return nil, err
	}
	return p.Chat(ctx, req)
}

// Answer implements Provider.
func (c *Chooser) Answer(ctx context.Context, req AnswerRequest) (*Answer, error) {
	p, err := c.For(ctx)
	if err != nil {
		return nil, err
	}
	return p.Answer(ctx, req)
}

// Sentiment implements Provider.
func (c *Chooser) Sentiment(ctx context.Context, text string) (Sentiment, error) {
	p, err := c.For(ctx)
	if err != nil {
		return Sentiment{}, err
	}
	return p.Sentiment(ctx, text)
}

type chooserEmbedder struct{ c *Chooser }

func (e chooserEmbedder) Model() string  { return e.c.Builtin.Embedder().Model() }
func (e chooserEmbedder) Dimension() int { return e.c.Builtin.Embedder().Dimension() }

func (e chooserEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	p, err := e.c.For(ctx)
	if err != nil {
		return nil, err
	}
	return p.Embedder().Embed(ctx, texts)
}
