package builtin

import (
	"context"
	"fmt"
	"strings"

	"github.com/neksio/neksio/core/ai"
)

// ChatReply is what the built-in provider's Chat says when the
// conversation's own context holds no answer: a polite holding reply rather
// than invented text.
const ChatReply = "Thanks for your message! A member of our team will get back to you shortly."

// Provider is the offline provider: no network, no model files, the same
// output for the same input on every machine.
type Provider struct {
	embedder hashEmbedder
}

// New returns the built-in provider.
func New() *Provider { return &Provider{} }

var _ ai.Provider = (*Provider)(nil)

// Name implements Provider.
func (*Provider) Name() string { return "builtin" }

// Embedder implements Provider: signed feature hashing of words, word bigrams
// and character 3–5-grams into 384 dimensions.
func (b *Provider) Embedder() ai.Embedder { return b.embedder }

// Chat implements Provider without a language model: the last user message
// is treated as a question and answered extractively from the earlier
// messages (system prompts carrying context, previous turns). With nothing
// to extract it returns ChatReply. It cannot write free text such as
// post drafts; callers needing that should configure an OpenAI-compatible
// endpoint.
func (b *Provider) Chat(ctx context.Context, req ai.ChatRequest) (*ai.ChatResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("builtin chat: %w", err)
	}
	last := -1
	for i, m := range req.Messages {
		if m.Role == ai.RoleUser {
			last = i
		}
	}
	if last < 0 {
		return nil, &ai.Error{Kind: ai.KindPermanent, Provider: b.Name(), Op: "chat", Err: fmt.Errorf("no user message")}
	}
	var passages []ai.Passage
	for i, m := range req.Messages {
		if i == last || strings.TrimSpace(m.Content) == "" {
			continue
		}
		passages = append(passages, ai.Passage{ID: fmt.Sprint(i), Text: m.Content})
	}
	ans := extractiveAnswer(ai.AnswerRequest{Question: req.Messages[last].Content, Passages: passages})
	content := ans.Text
	if !ans.Sendable(ai.DefaultConfidenceThreshold) {
		content = ChatReply
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += estimateTokens(m.Content)
	}
	completion := estimateTokens(content)
	return &ai.ChatResponse{
		Content:      content,
		Model:        AnswerModel,
		FinishReason: "stop",
		Usage:        ai.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion},
	}, nil
}

// Answer implements Provider extractively: the best one to three sentences of
// the passages, scored against the question, with their passage citations.
func (b *Provider) Answer(ctx context.Context, req ai.AnswerRequest) (*ai.Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("builtin answer: %w", err)
	}
	return extractiveAnswer(req), nil
}

// Sentiment implements Provider with LexiconSentiment.
func (b *Provider) Sentiment(ctx context.Context, text string) (ai.Sentiment, error) {
	if err := ctx.Err(); err != nil {
		return ai.Sentiment{}, fmt.Errorf("builtin sentiment: %w", err)
	}
	return LexiconSentiment(text), nil
}

var _ ai.LocalSentiment = (*Provider)(nil)

// SentimentScorer implements ai.LocalSentiment: the lexicon model runs in
// process, in microseconds, with no I/O, so a message may be scored in
// the transaction that stores it (core/sentiment).
func (*Provider) SentimentScorer() func(text string) ai.Sentiment { return LexiconSentiment }

// estimateTokens approximates a token count the way OpenAI's rule of thumb
// does (about four characters a token) for providers that cannot count.
func estimateTokens(s string) int {
	n := len([]rune(s))
	if n == 0 {
		return 0
	}
	return (n + 3) / 4
}
