package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/ai/openai"
)

// fakeOpenAI speaks enough of the OpenAI wire format for the provider:
// POST /v1/chat/completions and /v1/embeddings, answering with reply (chat)
// or vectors of dim (embeddings), or with status and an error body.
type fakeOpenAI struct {
	mu       sync.Mutex
	requests []recorded
	reply    string
	dim      int
	status   int
	headers  map[string]string
	errCode  string
}

type recorded struct {
	path string
	auth string
	body map[string]any
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.requests = append(f.requests, recorded{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: body})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	for k, v := range f.headers {
		w.Header().Set(k, v)
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprintf(w, `{"error":{"message":"failure %d","type":"test_error","param":null,"code":%q}}`, f.status, f.errCode)
		return
	}
	switch r.URL.Path {
	case "/v1/chat/completions":
		content, _ := json.Marshal(f.reply)
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":%q,
			"choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":42,"completion_tokens":7,"total_tokens":49}}`, body["model"], content)
	case "/v1/embeddings":
		inputs, _ := body["input"].([]any)
		var data []string
		// Reverse order on purpose: clients must place vectors by index.
		for i := len(inputs) - 1; i >= 0; i-- {
			vec := make([]string, f.dim)
			for k := range vec {
				vec[k] = fmt.Sprintf("%d", (i+1)*(k+1))
			}
			data = append(data, fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":[%s]}`, i, strings.Join(vec, ",")))
		}
		fmt.Fprintf(w, `{"object":"list","data":[%s],"model":%q,"usage":{"prompt_tokens":5,"total_tokens":5}}`, strings.Join(data, ","), body["model"])
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}`)
	}
}

func (f *fakeOpenAI) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func setupOpenAI(t *testing.T, f *fakeOpenAI) *openai.Provider {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := openai.New(openai.Config{
		BaseURL:        srv.URL + "/v1",
		APIKey:         "sk-test",
		ChatModel:      "chat-test",
		EmbeddingModel: "embed-test",
		Timeout:        5 * time.Second,
		MaxRetries:     0,
	})
	require.NoError(t, err)
	return p
}

func TestOpenAIChat(t *testing.T) {
	t.Parallel()
	f := &fakeOpenAI{reply: "Hello there"}
	p := setupOpenAI(t, f)
	temp := 0.2
	resp, err := p.Chat(context.Background(), ai.ChatRequest{
		Messages:    []ai.Message{{Role: ai.RoleSystem, Content: "be nice"}, {Role: ai.RoleUser, Content: "hi"}},
		Temperature: &temp,
		MaxTokens:   50,
	})
	require.NoError(t, err)
	require.Equal(t, "Hello there", resp.Content)
	require.Equal(t, "chat-test", resp.Model)
	require.Equal(t, ai.Usage{PromptTokens: 42, CompletionTokens: 7, TotalTokens: 49}, resp.Usage)

	req := f.last()
	require.Equal(t, "/v1/chat/completions", req.path)
	require.Equal(t, "Bearer sk-test", req.auth)
	require.Equal(t, "chat-test", req.body["model"])
	require.InDelta(t, 0.2, req.body["temperature"], 1e-9)
	msgs := req.body["messages"].([]any)
	require.Len(t, msgs, 2)
	require.Equal(t, "system", msgs[0].(map[string]any)["role"])
	require.Equal(t, "hi", msgs[1].(map[string]any)["content"])
}

func TestOpenAIEmbed(t *testing.T) {
	t.Parallel()
	f := &fakeOpenAI{dim: 4}
	p := setupOpenAI(t, f)
	e := p.Embedder()
	require.Equal(t, "embed-test", e.Model())
	require.Zero(t, e.Dimension(), "unknown until the first response")

	vs, err := e.Embed(context.Background(), []string{"a", "", "b"})
	require.NoError(t, err)
	require.Len(t, vs, 3)
	require.Equal(t, 4, e.Dimension())
	require.InDelta(t, 1, norm(vs[0]), 1e-5)
	require.Zero(t, norm(vs[1]), "empty input is not sent and gets a zero vector")
	require.Len(t, vs[1], 4)
	// Both non-empty inputs produce parallel vectors (k, 2k, ...) after
	// normalisation; order was restored from the indexes.
	require.InDelta(t, 1, builtin.Cosine(vs[0], vs[2]), 1e-5)

	req := f.last()
	require.Equal(t, "/v1/embeddings", req.path)
	require.Equal(t, "embed-test", req.body["model"])
	require.Equal(t, []any{"a", "b"}, req.body["input"])
	require.Equal(t, "Bearer sk-test", req.auth)
}

func TestOpenAIEmbedDimensionMismatch(t *testing.T) {
	t.Parallel()
	f := &fakeOpenAI{dim: 3}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := openai.New(openai.Config{BaseURL: srv.URL + "/v1", EmbeddingModel: "embed-test", EmbeddingDimension: 8})
	require.NoError(t, err)
	_, err = p.Embedder().Embed(context.Background(), []string{"x"})
	require.ErrorIs(t, err, ai.ErrPermanent)
	require.Equal(t, float64(8), f.last().body["dimensions"])
}

func TestOpenAIAnswer(t *testing.T) {
	t.Parallel()
	passages := []ai.Passage{
		{ID: "c1", Title: "Hours", Text: "Open 7am to 6pm.", Score: 0.3},
		{ID: "c2", Title: "Delivery", Text: "Delivery to Southsea is £2.50.", Score: 0.8},
	}
	t.Run("Cited", func(t *testing.T) {
		t.Parallel()
		f := &fakeOpenAI{reply: "Delivery to Southsea costs £2.50 [2]. We open at 7am [1][7]."}
		p := setupOpenAI(t, f)
		ans, err := p.Answer(context.Background(), ai.AnswerRequest{Question: "delivery southsea?", Passages: passages, Instructions: "Answer in English."})
		require.NoError(t, err)
		require.False(t, ans.Refused)
		require.Equal(t, "Delivery to Southsea costs £2.50. We open at 7am.", ans.Text)
		require.Equal(t, []string{"c2", "c1"}, ans.Citations, "unknown [7] dropped")
		require.InDelta(t, 0.9, ans.Confidence, 1e-9)
		require.Equal(t, "chat-test", ans.Model)
		require.Equal(t, 49, ans.Usage.TotalTokens)

		msgs := f.last().body["messages"].([]any)
		sys := msgs[0].(map[string]any)["content"].(string)
		user := msgs[1].(map[string]any)["content"].(string)
		require.Contains(t, sys, ai.RefusalMarker)
		require.Contains(t, sys, "Answer in English.")
		require.Contains(t, user, "[2] Delivery\nDelivery to Southsea is £2.50.")
		require.Contains(t, user, "Question: delivery southsea?")
	})
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		f := &fakeOpenAI{reply: ai.RefusalMarker}
		p := setupOpenAI(t, f)
		ans, err := p.Answer(context.Background(), ai.AnswerRequest{Question: "wifi?", Passages: passages})
		require.NoError(t, err)
		require.True(t, ans.Refused)
		require.Empty(t, ans.Text)
		require.Less(t, ans.Confidence, ai.DefaultConfidenceThreshold)
	})
	t.Run("Uncited", func(t *testing.T) {
		t.Parallel()
		ans := openai.ParseAnswer("We open at 7am.", passages)
		require.Empty(t, ans.Citations)
		require.Less(t, ans.Confidence, ai.DefaultConfidenceThreshold)
	})
}

func TestOpenAISentiment(t *testing.T) {
	t.Parallel()
	f := &fakeOpenAI{reply: `{"label": "negative", "score": -0.8}`}
	p := setupOpenAI(t, f)
	s, err := p.Sentiment(context.Background(), "meh")
	require.NoError(t, err)
	require.Equal(t, ai.Sentiment{Label: ai.SentimentNegative, Score: -0.8}, s)
	require.Equal(t, map[string]any{"type": "json_object"}, f.last().body["response_format"])

	// A reply that is not JSON falls back to the lexicon.
	f2 := &fakeOpenAI{reply: "I think the customer is happy."}
	p2 := setupOpenAI(t, f2)
	s, err = p2.Sentiment(context.Background(), "absolutely love it 😍")
	require.NoError(t, err)
	require.Equal(t, ai.SentimentPositive, s.Label)
}

func TestOpenAIErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		fake       *fakeOpenAI
		is         error
		retryable  bool
		retryAfter time.Duration
	}{
		{"RateLimited", &fakeOpenAI{status: 429, headers: map[string]string{"Retry-After": "7"}, errCode: "rate_limit_exceeded"}, ai.ErrRateLimited, true, 7 * time.Second},
		{"RateLimitedMs", &fakeOpenAI{status: 429, headers: map[string]string{"Retry-After-Ms": "1500"}}, ai.ErrRateLimited, true, 1500 * time.Millisecond},
		{"OutOfQuota", &fakeOpenAI{status: 429, errCode: "insufficient_quota"}, ai.ErrPermanent, false, 0},
		{"ServerError", &fakeOpenAI{status: 500}, ai.ErrTransient, true, 0},
		{"Overloaded", &fakeOpenAI{status: 503, headers: map[string]string{"Retry-After": "3"}}, ai.ErrTransient, true, 3 * time.Second},
		{"Unauthorized", &fakeOpenAI{status: 401, errCode: "invalid_api_key"}, ai.ErrPermanent, false, 0},
		{"Forbidden", &fakeOpenAI{status: 403}, ai.ErrPermanent, false, 0},
		{"BadRequest", &fakeOpenAI{status: 400}, ai.ErrPermanent, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := setupOpenAI(t, tc.fake)
			_, err := p.Chat(context.Background(), ai.ChatRequest{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
			require.ErrorIs(t, err, tc.is)
			require.Equal(t, tc.retryable, ai.Retryable(err))
			var e *ai.Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, tc.fake.status, e.StatusCode)
			require.Equal(t, "chat", e.Op)
			d, ok := ai.RetryAfter(err)
			require.Equal(t, tc.retryAfter > 0, ok)
			require.Equal(t, tc.retryAfter, d)
			require.NotContains(t, err.Error(), "sk-test", "errors never carry the key")
			tc.fake.mu.Lock()
			require.Len(t, tc.fake.requests, 1, "client retries are off")
			tc.fake.mu.Unlock()

			_, err = p.Embedder().Embed(context.Background(), []string{"x"})
			require.ErrorIs(t, err, tc.is)
			require.True(t, errors.As(err, &e))
			require.Equal(t, "embed", e.Op)
		})
	}

	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		p, err := openai.New(openai.Config{BaseURL: url + "/v1", Timeout: time.Second})
		require.NoError(t, err)
		_, err = p.Sentiment(context.Background(), "hi")
		require.ErrorIs(t, err, ai.ErrTransient)
	})

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		p := setupOpenAI(t, &fakeOpenAI{reply: "x"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Chat(ctx, ai.ChatRequest{Messages: []ai.Message{{Role: ai.RoleUser, Content: "hi"}}})
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, ai.Retryable(err))
	})
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
