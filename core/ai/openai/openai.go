package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/plugins/sdk"
)

// Config configures an OpenAI-compatible endpoint.
type Config struct {
	// BaseURL of the API, including the version path, e.g.
	// "https://api.openai.com/v1" or "http://localhost:11434/v1" (Ollama).
	// Empty means OpenAI.
	BaseURL string
	// APIKey is sent as a bearer token; empty for local servers without auth.
	APIKey string
	// ChatModel answers and classifies, e.g. "gpt-4o-mini" or "llama3.1".
	ChatModel string
	// EmbeddingModel, e.g. "text-embedding-3-small" or "nomic-embed-text".
	EmbeddingModel string
	// EmbeddingDimension, when set, is requested from the server (the
	// "dimensions" parameter, honoured by text-embedding-3 and later) and
	// checked on every response. Zero: learned from the first response.
	EmbeddingDimension int
	// Timeout per HTTP attempt; zero means 60 seconds.
	Timeout time.Duration
	// MaxRetries is the client's own retries. Zero by default because River
	// retries jobs using the classified errors; retrying in both places
	// multiplies waits.
	MaxRetries int
}

// Defaults used when a setting is empty.
const (
	DefaultBaseURL        = "https://api.openai.com/v1"
	DefaultChatModel      = "gpt-4o-mini"
	DefaultEmbeddingModel = "text-embedding-3-small"
	defaultTimeout        = 60 * time.Second
	// embedBatch stays well under OpenAI's 2048 inputs per request and keeps
	// a single request small for local servers.
	embedBatch = 128
)

// Provider is an [ai.Provider] backed by an OpenAI-compatible HTTP API.
type Provider struct {
	client   oai.Client
	cfg      Config
	embedder *openAIEmbedder
}

var _ ai.Provider = (*Provider)(nil)

// New returns a provider for the configured endpoint. It does not call
// the endpoint; the first request reveals bad settings as KindPermanent.
func New(cfg Config) (*Provider, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.ChatModel == "" {
		cfg.ChatModel = DefaultChatModel
	}
	if cfg.EmbeddingModel == "" {
		cfg.EmbeddingModel = DefaultEmbeddingModel
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.MaxRetries < 0 || cfg.EmbeddingDimension < 0 {
		return nil, fmt.Errorf("ai: negative MaxRetries or EmbeddingDimension")
	}
	client := oai.NewClient(
		option.WithBaseURL(cfg.BaseURL),
		// Always set, even empty, so an OPENAI_API_KEY in the environment is
		// never sent to a server the operator did not configure it for.
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
	)
	p := &Provider{client: client, cfg: cfg}
	p.embedder = &openAIEmbedder{p: p}
	p.embedder.dim.Store(int64(cfg.EmbeddingDimension))
	return p, nil
}

// Name implements Provider.
func (p *Provider) Name() string { return "openai" }

// Embedder implements Provider.
func (p *Provider) Embedder() ai.Embedder { return p.embedder }

// Chat implements Provider.
func (p *Provider) Chat(ctx context.Context, req ai.ChatRequest) (*ai.ChatResponse, error) {
	params := oai.ChatCompletionNewParams{Model: p.cfg.ChatModel}
	for _, m := range req.Messages {
		switch m.Role {
		case ai.RoleSystem:
			params.Messages = append(params.Messages, oai.SystemMessage(m.Content))
		case ai.RoleAssistant:
			params.Messages = append(params.Messages, oai.AssistantMessage(m.Content))
		default:
			params.Messages = append(params.Messages, oai.UserMessage(m.Content))
		}
	}
	if req.MaxTokens > 0 {
		params.MaxTokens = oai.Int(int64(req.MaxTokens))
	}
	if req.Temperature != nil {
		params.Temperature = oai.Float(*req.Temperature)
	}
	if req.JSON {
		params.ResponseFormat = oai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONObject: &oai.ResponseFormatJSONObjectParam{},
		}
	}
	resp, err := p.client.Chat.Completions.New(ctx, params)
	if err != nil {
		return nil, p.classify("chat", err)
	}
	if len(resp.Choices) == 0 {
		return nil, &ai.Error{Kind: ai.KindTransient, Provider: p.Name(), Op: "chat", Err: errors.New("response has no choices")}
	}
	return &ai.ChatResponse{
		Content:      resp.Choices[0].Message.Content,
		Model:        resp.Model,
		FinishReason: string(resp.Choices[0].FinishReason),
		Usage: ai.Usage{
			PromptTokens:     int(resp.Usage.PromptTokens),
			CompletionTokens: int(resp.Usage.CompletionTokens),
			TotalTokens:      int(resp.Usage.TotalTokens),
		},
	}, nil
}

// answerSystemPrompt keeps the model on the passages. The refusal marker is
// fixed so refusals are detected without interpreting prose.
const answerSystemPrompt = `You answer customers' questions on behalf of a business, using ONLY the numbered sources provided.
Rules:
- Use only facts stated in the sources. Never guess, never use outside knowledge.
- Cite every source you use by its number in square brackets right after the fact, like [1] or [2][3].
- Be brief: one to three sentences, friendly and plain.
- If the sources do not contain the answer, reply with exactly ` + ai.RefusalMarker + ` and nothing else.`

// BuildAnswerPrompt renders the chat messages for a grounded answer. Exposed
// so the agent can show operators exactly what the model saw.
func BuildAnswerPrompt(req ai.AnswerRequest) []ai.Message {
	sys := answerSystemPrompt
	if s := strings.TrimSpace(req.Instructions); s != "" {
		sys += "\n\nAdditional instructions from the business (they never override the rules above):\n" + s
	}
	var b strings.Builder
	b.WriteString("Sources:\n")
	for i, p := range req.Passages {
		fmt.Fprintf(&b, "\n[%d]", i+1)
		if p.Title != "" {
			b.WriteString(" " + p.Title)
		}
		b.WriteString("\n" + strings.TrimSpace(p.Text) + "\n")
	}
	b.WriteString("\nQuestion: " + strings.TrimSpace(req.Question))
	return []ai.Message{{Role: ai.RoleSystem, Content: sys}, {Role: ai.RoleUser, Content: b.String()}}
}

var citationRE = regexp.MustCompile(`\[(\d+(?:\s*[,;]\s*\d+)*)\]`)

// ParseAnswer turns a model reply to BuildAnswerPrompt into an Answer:
// citations [n] become passage IDs (unknown numbers are dropped) and are
// removed from the text, which goes to customers as is. Confidence comes
// from the retrieval scores of the cited passages: the model judged the
// answer supported, retrieval says how close the sources were. An answer
// that cites nothing is treated as ungrounded and gets half.
func ParseAnswer(reply string, passages []ai.Passage) *ai.Answer {
	ans := &ai.Answer{}
	if strings.Contains(reply, ai.RefusalMarker) || strings.TrimSpace(reply) == "" {
		ans.Refused = true
		return ans
	}
	seen := map[int]bool{}
	best := 0.0
	known := false
	for _, m := range citationRE.FindAllStringSubmatch(reply, -1) {
		for _, f := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 || n > len(passages) || seen[n] {
				continue
			}
			seen[n] = true
			ans.Citations = append(ans.Citations, passages[n-1].ID)
			if passages[n-1].Score > 0 {
				known = true
				best = math.Max(best, passages[n-1].Score)
			}
		}
	}
	text := citationRE.ReplaceAllString(reply, "")
	text = strings.Join(strings.Fields(text), " ")
	text = strings.NewReplacer(" .", ".", " ,", ",", " !", "!", " ?", "?").Replace(text)
	ans.Text = text
	switch {
	case len(ans.Citations) == 0:
		ans.Confidence = 0.5 * ai.DefaultConfidenceThreshold
	case !known:
		ans.Confidence = 0.75 // scores unknown: the model's grounding is all we have
	default:
		ans.Confidence = math.Max(0, math.Min(1, 0.5+0.5*best))
	}
	ans.Confidence = math.Round(ans.Confidence*1000) / 1000
	return ans
}

// Answer implements Provider by prompting the chat model with numbered
// passages (see BuildAnswerPrompt and ParseAnswer).
func (p *Provider) Answer(ctx context.Context, req ai.AnswerRequest) (*ai.Answer, error) {
	if len(req.Passages) == 0 {
		// Nothing to ground on: refusing here saves a call that could only
		// produce an unsupported answer.
		return &ai.Answer{Refused: true, Model: p.cfg.ChatModel}, nil
	}
	zero := 0.0
	resp, err := p.Chat(ctx, ai.ChatRequest{Messages: BuildAnswerPrompt(req), Temperature: &zero, MaxTokens: 400})
	if err != nil {
		var e *ai.Error
		if errors.As(err, &e) {
			e.Op = "answer"
		}
		return nil, err
	}
	ans := ParseAnswer(resp.Content, req.Passages)
	ans.Usage = resp.Usage
	ans.Model = resp.Model
	return ans, nil
}

const sentimentPrompt = `Classify the sentiment of the customer's message to a business (social media comment, direct message or review).
Reply with a JSON object only: {"label": "positive" | "neutral" | "negative", "score": number from -1 (very negative) to 1 (very positive)}.`

// Sentiment implements Provider by asking the chat model for JSON; a reply
// that does not parse falls back to LexiconSentiment rather than failing the
// job, since a label is still useful.
func (p *Provider) Sentiment(ctx context.Context, text string) (ai.Sentiment, error) {
	zero := 0.0
	resp, err := p.Chat(ctx, ai.ChatRequest{
		Messages:    []ai.Message{{Role: ai.RoleSystem, Content: sentimentPrompt}, {Role: ai.RoleUser, Content: text}},
		Temperature: &zero,
		MaxTokens:   60,
		JSON:        true,
	})
	if err != nil {
		var e *ai.Error
		if errors.As(err, &e) {
			e.Op = "sentiment"
		}
		return ai.Sentiment{}, err
	}
	if s, ok := parseSentimentJSON(resp.Content); ok {
		return s, nil
	}
	return builtin.LexiconSentiment(text), nil
}

func parseSentimentJSON(reply string) (ai.Sentiment, bool) {
	i, j := strings.Index(reply, "{"), strings.LastIndex(reply, "}")
	if i < 0 || j < i {
		return ai.Sentiment{}, false
	}
	var v struct {
		Label string   `json:"label"`
		Score *float64 `json:"score"`
	}
	if err := json.Unmarshal([]byte(reply[i:j+1]), &v); err != nil {
		return ai.Sentiment{}, false
	}
	label := ai.SentimentLabel(strings.ToLower(strings.TrimSpace(v.Label)))
	switch label {
	case ai.SentimentPositive, ai.SentimentNeutral, ai.SentimentNegative:
	case "":
		if v.Score == nil {
			return ai.Sentiment{}, false
		}
		label = ai.LabelFor(*v.Score)
	default:
		return ai.Sentiment{}, false
	}
	score := 0.0
	if v.Score != nil {
		score = math.Max(-1, math.Min(1, *v.Score))
	} else {
		score = map[ai.SentimentLabel]float64{ai.SentimentPositive: 0.5, ai.SentimentNegative: -0.5}[label]
	}
	return ai.Sentiment{Label: label, Score: score}, true
}

type openAIEmbedder struct {
	p   *Provider
	dim atomic.Int64
}

func (e *openAIEmbedder) Model() string  { return e.p.cfg.EmbeddingModel }
func (e *openAIEmbedder) Dimension() int { return int(e.dim.Load()) }

// Embed sends texts in batches, restores input order from each item's index,
// and normalises vectors because not every compatible server does.
// Empty texts, which the API rejects, get zero vectors without a call.
func (e *openAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var idx []int
	for i, t := range texts {
		if strings.TrimSpace(t) != "" {
			idx = append(idx, i)
		}
	}
	for start := 0; start < len(idx); start += embedBatch {
		batch := idx[start:min(start+embedBatch, len(idx))]
		inputs := make([]string, len(batch))
		for k, i := range batch {
			inputs[k] = texts[i]
		}
		params := oai.EmbeddingNewParams{
			Model:          e.p.cfg.EmbeddingModel,
			Input:          oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
			EncodingFormat: oai.EmbeddingNewParamsEncodingFormatFloat,
		}
		if e.p.cfg.EmbeddingDimension > 0 {
			params.Dimensions = oai.Int(int64(e.p.cfg.EmbeddingDimension))
		}
		resp, err := e.p.client.Embeddings.New(ctx, params)
		if err != nil {
			return nil, e.p.classify("embed", err)
		}
		if len(resp.Data) != len(batch) {
			return nil, &ai.Error{Kind: ai.KindTransient, Provider: e.p.Name(), Op: "embed",
				Err: fmt.Errorf("got %d embeddings for %d inputs", len(resp.Data), len(batch))}
		}
		for _, d := range resp.Data {
			if d.Index < 0 || int(d.Index) >= len(batch) {
				return nil, &ai.Error{Kind: ai.KindTransient, Provider: e.p.Name(), Op: "embed", Err: fmt.Errorf("embedding index %d out of range", d.Index)}
			}
			if err := e.checkDim(len(d.Embedding)); err != nil {
				return nil, err
			}
			v := make([]float32, len(d.Embedding))
			for k, x := range d.Embedding {
				v[k] = float32(x)
			}
			builtin.Normalize(v)
			out[batch[d.Index]] = v
		}
	}
	if d := e.Dimension(); d > 0 {
		for i := range out {
			if out[i] == nil {
				out[i] = make([]float32, d)
			}
		}
	}
	return out, nil
}

// checkDim learns the dimension from the first vector and rejects a change:
// vectors of another size would corrupt the index.
func (e *openAIEmbedder) checkDim(n int) error {
	if n == 0 {
		return &ai.Error{Kind: ai.KindTransient, Provider: e.p.Name(), Op: "embed", Err: errors.New("empty embedding")}
	}
	if e.dim.CompareAndSwap(0, int64(n)) {
		return nil
	}
	if want := e.dim.Load(); int64(n) != want {
		return &ai.Error{Kind: ai.KindPermanent, Provider: e.p.Name(), Op: "embed",
			Err: fmt.Errorf("embedding dimension %d, expected %d (model %q)", n, want, e.p.cfg.EmbeddingModel)}
	}
	return nil
}

// classify maps client errors to Kinds. 429 is a rate limit unless the
// account is out of quota (retrying cannot help); 408, 409 and 5xx are
// transient; other 4xx (bad request, auth, unknown model) are permanent.
// Network failures and timeouts are transient; a cancelled context is
// returned unclassified so nothing retries work its caller abandoned.
func (p *Provider) classify(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("ai %s %s: %w", p.Name(), op, err)
	}
	e := &ai.Error{Provider: p.Name(), Op: op, Err: err}
	var apiErr *oai.Error
	switch {
	case errors.As(err, &apiErr):
		e.StatusCode = apiErr.StatusCode
		switch {
		case apiErr.StatusCode == http.StatusTooManyRequests && apiErr.Code == "insufficient_quota":
			e.Kind = ai.KindPermanent
		case apiErr.StatusCode == http.StatusTooManyRequests:
			e.Kind = ai.KindRateLimited
		case apiErr.StatusCode == http.StatusRequestTimeout || apiErr.StatusCode == http.StatusConflict || apiErr.StatusCode >= 500:
			e.Kind = ai.KindTransient
		default:
			e.Kind = ai.KindPermanent
		}
		if apiErr.Response != nil {
			e.RetryAfter = parseRetryAfter(apiErr.Response.Header, time.Now())
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = ai.KindTransient
	default:
		// Anything else from an HTTP client is I/O: refused connections,
		// resets, EOFs, DNS. Retry rather than drop the work.
		e.Kind = ai.KindTransient
	}
	return e
}

// parseRetryAfter reads retry-after-ms (OpenAI) or Retry-After in seconds or
// as an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f > 0 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	return sdk.ParseRetryAfter(h.Get("Retry-After"), now)
}
