package ai

import (
	"context"
	"strings"
)

// DefaultConfidenceThreshold is the confidence below which an answer must not
// be sent on its own: the agent drafts it for a human or hands off instead.
// The evaluation in core/knowledge uses this same value for both answer
// accuracy and refusals, so changing it moves both numbers.
const DefaultConfidenceThreshold = 0.4

// RefusalMarker is what chat models are told to answer, verbatim, when the
// passages do not support an answer. It is unusual enough not to occur in a
// real answer, so detecting it is a substring test.
const RefusalMarker = "NO_ANSWER_IN_SOURCES"

// Provider is a model backend. Implementations are safe for concurrent use.
type Provider interface {
	// Name identifies the provider in logs and stored answers, e.g. "builtin".
	Name() string
	// Embedder returns the provider's embedding model. Vectors from different
	// embedders are not comparable; store Embedder().Model() with them.
	Embedder() Embedder
	// Chat runs a plain chat completion.
	Chat(ctx context.Context, req ChatRequest) (*ChatResponse, error)
	// Answer answers a question from retrieved passages only.
	Answer(ctx context.Context, req AnswerRequest) (*Answer, error)
	// Sentiment classifies a piece of social text.
	Sentiment(ctx context.Context, text string) (Sentiment, error)
}

// Embedder turns texts into vectors of a fixed dimension.
type Embedder interface {
	// Model is the embedding model's name, stored next to every vector so a
	// model change can be detected and the knowledge base re-indexed.
	Model() string
	// Dimension is the vector length; 0 means not yet known (an OpenAI
	// endpoint without a configured dimension learns it on the first call).
	Dimension() int
	// Embed returns one L2-normalised vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Role is the author of a chat message.
type Role string

// Chat roles, as the OpenAI wire format names them.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a chat.
type Message struct {
	Role    Role
	Content string
}

// ChatRequest is a chat completion request.
type ChatRequest struct {
	Messages []Message
	// MaxTokens caps the reply; 0 leaves it to the provider.
	MaxTokens int
	// Temperature is used when non-nil; answers use 0 for repeatability.
	Temperature *float64
	// JSON asks for a JSON object reply where the endpoint supports it.
	JSON bool
}

// ChatResponse is a chat completion.
type ChatResponse struct {
	Content      string
	Model        string
	FinishReason string
	Usage        Usage
}

// Usage counts tokens. The built-in provider estimates them (about four
// characters a token) so quotas and analytics still have a number.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
}

// Passage is one retrieved piece of the knowledge base.
type Passage struct {
	// ID is what citations refer to (e.g. a chunk ID).
	ID string
	// Title gives context: the document title and heading path.
	Title string
	Text  string
	// Score is the retrieval similarity in [0,1] (cosine for normalised
	// vectors); 0 when unknown.
	Score float64
}

// AnswerRequest asks for an answer grounded in Passages.
type AnswerRequest struct {
	Question string
	// Passages in retrieval order, best first.
	Passages []Passage
	// Instructions are appended to the system prompt of chat-model providers
	// (e.g. "answer in Spanish"); the built-in provider ignores them.
	Instructions string
}

// Answer is a grounded answer.
type Answer struct {
	// Text is empty when Refused.
	Text string
	// Citations are the IDs of the passages the answer used, in first-use order.
	Citations []string
	// Confidence in [0,1]; compare with a threshold such as
	// DefaultConfidenceThreshold before sending without review.
	Confidence float64
	// Refused reports that the passages did not support an answer.
	Refused bool
	// Unsupported are words of the question that the answer does not cover
	// ("blue" in "do you have a blue mug?" answered with the red mug's
	// stock). Providers that cannot tell leave it empty.
	Unsupported []string
	Usage       Usage
	Model       string
}

// Sendable reports whether the answer may go to a customer with nobody
// reviewing it: it was not refused, its confidence reaches threshold, and it
// covers every word of the question that matters. The agent's AUTO mode
// applies this rule (core/agent); drafts, which a person reviews, only need
// the confidence.
func (a *Answer) Sendable(threshold float64) bool {
	return !a.Refused && strings.TrimSpace(a.Text) != "" && a.Confidence >= threshold && len(a.Unsupported) == 0
}

// SentimentLabel is the coarse polarity of a text.
type SentimentLabel string

// Sentiment labels.
const (
	SentimentPositive SentimentLabel = "positive"
	SentimentNeutral  SentimentLabel = "neutral"
	SentimentNegative SentimentLabel = "negative"
)

// Sentiment is a polarity label with a score in [-1,1].
type Sentiment struct {
	Label SentimentLabel
	Score float64
}

// labelFor turns a compound score into a label with the conventional VADER
// dead zone, so "ok thanks" stays neutral.
func LabelFor(score float64) SentimentLabel {
	switch {
	case score >= 0.05:
		return SentimentPositive
	case score <= -0.05:
		return SentimentNegative
	default:
		return SentimentNeutral
	}
}
