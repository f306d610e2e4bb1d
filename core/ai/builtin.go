package ai

import (
	"context"
	"fmt"
	"strings"
)

// BuiltinChatReply is what the built-in provider's Chat says when the
// conversation's own context holds no answer: a polite holding reply rather
// than invented text.
const BuiltinChatReply = "Thanks for your message! A member of our team will get back to you shortly."

// Builtin is the offline provider: no network, no model files, the same
// output for the same input on every machine.
type Builtin struct {
	embedder hashEmbedder
}

// NewBuiltin returns the built-in provider.
func NewBuiltin() *Builtin { return &Builtin{} }

var _ Provider = (*Builtin)(nil)

// Name implements Provider.
func (*Builtin) Name() string { return "builtin" }

// Embedder implements Provider: signed feature hashing of words, word bigrams
// and character 3–5-grams into 384 dimensions.
func (b *Builtin) Embedder() Embedder { return b.embedder }

// Chat implements Provider without a language model: the last user message
// is treated as a question and answered extractively from the earlier
// messages (system prompts carrying context, previous turns). With nothing
// to extract it returns BuiltinChatReply. It cannot write free text such as
// post drafts; callers needing that should configure an OpenAI-compatible
// endpoint.
func (b *Builtin) Chat(ctx context.Context, req ChatRequest) (*ChatResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("builtin chat: %w", err)
	}
	last := -1
	for i, m := range req.Messages {
		if m.Role == RoleUser {
			last = i
		}
	}
	if last < 0 {
		return nil, &Error{Kind: KindPermanent, Provider: b.Name(), Op: "chat", Err: fmt.Errorf("no user message")}
	}
	var passages []Passage
	for i, m := range req.Messages {
		if i == last || strings.TrimSpace(m.Content) == "" {
			continue
		}
		passages = append(passages, Passage{ID: fmt.Sprint(i), Text: m.Content})
	}
	ans := extractiveAnswer(AnswerRequest{Question: req.Messages[last].Content, Passages: passages})
	content := ans.Text
	if !ans.Sendable(DefaultConfidenceThreshold) {
		content = BuiltinChatReply
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += estimateTokens(m.Content)
	}
	completion := estimateTokens(content)
	return &ChatResponse{
		Content:      content,
		Model:        BuiltinAnswerModel,
		FinishReason: "stop",
		Usage:        Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion},
	}, nil
}

// Answer implements Provider extractively: the best one to three sentences of
// the passages, scored against the question, with their passage citations.
func (b *Builtin) Answer(ctx context.Context, req AnswerRequest) (*Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("builtin answer: %w", err)
	}
	return extractiveAnswer(req), nil
}

// Sentiment implements Provider with LexiconSentiment.
func (b *Builtin) Sentiment(ctx context.Context, text string) (Sentiment, error) {
	if err := ctx.Err(); err != nil {
		return Sentiment{}, fmt.Errorf("builtin sentiment: %w", err)
	}
	return LexiconSentiment(text), nil
}
