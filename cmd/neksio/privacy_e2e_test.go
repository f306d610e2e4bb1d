package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/config"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
)

const settingsFields = `messageRetentionDays auditRetentionDays aiProcessing`

// TestWorkspaceSettingsAPI: defaults, validation naming the field, roles,
// Workspace.settings, and the audit entry with old and new values.
func TestWorkspaceSettingsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		e := newEnv(t, d, withoutWhatsAppChannel())
		got := e.gql(t, `{ workspaceSettings { `+settingsFields+` } viewer { workspace { settings { aiProcessing } } } }`, nil)
		require.Equal(t, map[string]any{"messageRetentionDays": nil, "auditRetentionDays": 365.0, "aiProcessing": "BUILTIN_ONLY"},
			got["workspaceSettings"])
		require.Equal(t, "BUILTIN_ONLY", dig(got, "viewer", "workspace", "settings", "aiProcessing"))

		const update = `mutation($in: UpdateWorkspaceSettingsInput!) { updateWorkspaceSettings(input: $in) { ` + settingsFields + ` } }`
		for field, in := range map[string]map[string]any{
			"messageRetentionDays": {"messageRetentionDays": 0},
			"auditRetentionDays":   {"auditRetentionDays": 30},
		} {
			r := e.gqlAs(t, e.Key, update, map[string]any{"in": in})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), field)
			require.Equal(t, field, r.Errors[0].Extensions["field"], field)
		}
		agent := e.keyAs(t, tenant.RoleAgent)
		r := e.gqlAs(t, agent, update, map[string]any{"in": map[string]any{"aiProcessing": "EXTERNAL_ALLOWED"}})
		require.Equal(t, "FORBIDDEN", r.Code())
		// Any member reads them.
		r = e.gqlAs(t, agent, `{ workspaceSettings { aiProcessing } }`, nil)
		require.Empty(t, r.Errors)

		up := e.gql(t, update, map[string]any{"in": map[string]any{"messageRetentionDays": 90, "aiProcessing": "EXTERNAL_ALLOWED"}})
		require.Equal(t, map[string]any{"messageRetentionDays": 90.0, "auditRetentionDays": 365.0, "aiProcessing": "EXTERNAL_ALLOWED"},
			up["updateWorkspaceSettings"])
		up = e.gql(t, update, map[string]any{"in": map[string]any{"messageRetentionDays": nil}})
		require.Nil(t, dig(up, "updateWorkspaceSettings", "messageRetentionDays"), "null keeps messages forever")
		require.Equal(t, "EXTERNAL_ALLOWED", dig(up, "updateWorkspaceSettings", "aiProcessing"), "omitted fields stay")

		logs := e.gql(t, `{ auditLogs(first: 5, where: {action: "workspace.settings.update"}) { edges { node { actor targetType targetID metadata } } } }`, nil)
		edges := dig(logs, "auditLogs", "edges").([]any)
		require.Len(t, edges, 2)
		require.Equal(t, map[string]any{"messageRetentionDays.old": "90", "messageRetentionDays.new": "forever"},
			dig(edges[0], "node", "metadata"), "newest first")
		require.Equal(t, map[string]any{"messageRetentionDays.old": "forever", "messageRetentionDays.new": "90",
			"aiProcessing.old": "BUILTIN_ONLY", "aiProcessing.new": "EXTERNAL_ALLOWED"}, dig(edges[1], "node", "metadata"))
		require.Equal(t, e.Workspace, dig(edges[1], "node", "targetID"))
	})
}

// externalAI is an OpenAI-compatible endpoint standing for an external
// provider. While refuse is set, any call fails the test: the workspace
// has not allowed external processing.
type externalAI struct {
	t      testing.TB
	mu     sync.Mutex
	refuse bool
	paths  map[string]int
}

func (f *externalAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	refuse := f.refuse
	f.paths[r.URL.Path]++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if refuse {
		f.t.Errorf("the external AI provider was called (%s) while the workspace allows BUILTIN_ONLY", r.URL.Path)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"not allowed","type":"invalid_request_error","param":null,"code":null}}`)
		return
	}
	var body struct {
		Model          string            `json:"model"`
		Input          []string          `json:"input"`
		Messages       []json.RawMessage `json:"messages"`
		ResponseFormat map[string]any    `json:"response_format"`
	}
	_ = json.Unmarshal(raw, &body)
	switch {
	case strings.HasSuffix(r.URL.Path, "/embeddings"):
		var data []string
		for i, in := range body.Input {
			// A tiny deterministic embedding: every text is close to every other.
			data = append(data, fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":[1,%d,0.5,0.25]}`, i, len(in)%3))
		}
		fmt.Fprintf(w, `{"object":"list","data":[%s],"model":%q,"usage":{"prompt_tokens":5,"total_tokens":5}}`, strings.Join(data, ","), body.Model)
	case strings.HasSuffix(r.URL.Path, "/chat/completions"):
		reply := "Delivery costs £3.50 [1]."
		switch {
		case strings.Contains(strings.ToLower(string(raw)), "sentiment"):
			reply = `{"label": "neutral", "score": 0.1}`
		case body.ResponseFormat != nil:
			reply = `{"text": "Our autumn menu is here", "hashtags": ["coffee"], "sources": []}`
		}
		content, _ := json.Marshal(reply)
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1700000000,"model":%q,
			"choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,"finish_reason":"stop"}],
			"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`, body.Model, content)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *externalAI) set(refuse bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = refuse
	f.paths = map[string]int{}
}

func (f *externalAI) calls(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[path]
}

// TestAIConsent: with an external provider configured, a workspace that
// has not opted in (BUILTIN_ONLY, the default) sends nothing to it from
// knowledge indexing, askKnowledgeBase, the agent's reply and sentiment,
// or post generation; once it allows EXTERNAL_ALLOWED they all use it,
// agent runs say so, and the knowledge base is indexed again in the
// external model's space. Another workspace on the server stays built-in.
func TestAIConsent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		ext := &externalAI{t: t}
		ext.set(true)
		srv := httptest.NewServer(ext)
		t.Cleanup(srv.Close)
		e := newEnv(t, d, withConfig(func(c *config.Config) {
			c.AI = config.AI{BaseURL: srv.URL + "/v1", APIKey: "sk-test", ChatModel: "chat-ext", EmbeddingModel: "embed-ext"}
		}))
		pageCh, _ := e.connectMeta(t)
		e.gql(t, `mutation($id: ID!) { updateChannel(id: $id, input: {aiMode: AUTO}) { aiMode } }`, map[string]any{"id": e.WAChannel})

		// BUILTIN_ONLY: every AI feature runs, none reaches the endpoint.
		e.gql(t, `mutation { addKnowledgeDocument(input: {title: "Acme", content: "Delivery within 5 miles costs £3.50.", format: TEXT}) { id } }`, nil)
		e.waitJobs(t)
		ask := e.gql(t, `{ askKnowledgeBase(question: "how much is delivery?") { answer model } }`, nil)
		require.Contains(t, dig(ask, "askKnowledgeBase", "answer"), "£3.50")
		require.NotEqual(t, "chat-ext", dig(ask, "askKnowledgeBase", "model"))
		e.whatsappText(t, "15551230001", "How much is delivery?")
		e.waitJobs(t)
		msg := e.inboundMessage(t, "15551230001")
		require.NotEmpty(t, msg["sentimentLabel"])
		run := e.agentRunProvider(t, msg["id"].(string))
		require.Equal(t, "builtin", run["provider"])
		gen := e.gql(t, `mutation($in: GeneratePostInput!) { generatePost(input: $in) { model } }`,
			map[string]any{"in": map[string]any{"brief": "delivery prices", "channelIds": []string{pageCh}}})
		require.Equal(t, "builtin", dig(gen, "generatePost", "model"))
		require.Zero(t, ext.calls("/v1/embeddings")+ext.calls("/v1/chat/completions"))

		// EXTERNAL_ALLOWED: the same features use the external provider.
		ext.set(false)
		e.gql(t, `mutation { updateWorkspaceSettings(input: {aiProcessing: EXTERNAL_ALLOWED}) { aiProcessing } }`, nil)
		e.waitJobs(t)
		require.Positive(t, ext.calls("/v1/embeddings"), "the knowledge base is embedded again by the allowed provider")
		docs := e.gql(t, `{ knowledgeDocuments(first: 5) { edges { node { status } } } }`, nil)
		require.Equal(t, "INDEXED", dig(docs, "knowledgeDocuments", "edges", 0, "node", "status"))
		ask = e.gql(t, `{ askKnowledgeBase(question: "how much is delivery?") { answer model } }`, nil)
		require.Equal(t, "chat-ext", dig(ask, "askKnowledgeBase", "model"))
		e.whatsappText(t, "15551230002", "How much is delivery please?")
		e.waitJobs(t)
		msg = e.inboundMessage(t, "15551230002")
		run = e.agentRunProvider(t, msg["id"].(string))
		require.Equal(t, "openai", run["provider"])
		require.Equal(t, "chat-ext", run["model"])
		gen = e.gql(t, `mutation($in: GeneratePostInput!) { generatePost(input: $in) { model } }`,
			map[string]any{"in": map[string]any{"brief": "delivery prices", "channelIds": []string{pageCh}}})
		require.Equal(t, "openai", dig(gen, "generatePost", "model"))
		require.Positive(t, ext.calls("/v1/chat/completions"))

		// Another workspace on the same server has not opted in.
		ext.set(true)
		_, key := e.newWorkspace(t, "Other")
		r := e.gqlAs(t, key, `{ askKnowledgeBase(question: "how much is delivery?") { model } }`, nil)
		require.Empty(t, r.Errors)
		require.Zero(t, ext.calls("/v1/embeddings")+ext.calls("/v1/chat/completions"))
	})
}

// agentRunProvider reads the agent run of a message with its model and provider.
func (e *env) agentRunProvider(t testing.TB, messageID string) map[string]any {
	t.Helper()
	run, _ := dig(e.gql(t, `query($id: ID!) { node(id: $id) { ... on Message { agentRun { decision model provider } } } }`,
		map[string]any{"id": messageID}), "node", "agentRun").(map[string]any)
	require.NotNil(t, run, "no agent run for %s", messageID)
	return run
}
