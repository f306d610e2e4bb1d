package knowledge

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/vector"
	"github.com/neksio/neksio/internal/testenv"
)

// evalTopK passages are retrieved per question, as the service does.
const evalTopK = 5

// evalSet is one evaluation set under testdata/eval with its floors: a
// little below what the built-in pipeline achieves, so only a real
// regression fails. Raise them when the pipeline improves; never lower them
// to make a change pass.
type evalSet struct {
	name string
	// minHitRate: the source document is among the top evalTopK passages.
	minHitRate float64
	// minAccuracy: the answer would be sent in AUTO mode (ai.Answer.Sendable)
	// and contains the fact.
	minAccuracy float64
	// minDraftAccuracy: the answer would be drafted in DRAFT mode (not
	// refused, confident enough) and contains the fact.
	minDraftAccuracy float64
	// maxWrongRate: the answer would be sent and lacks the fact (the worst
	// outcome: a wrong answer in AUTO mode).
	maxWrongRate float64
	// minRefusalRate: unanswerable questions not sent.
	minRefusalRate float64
	// minNearMissRate: near-miss questions (the knowledge base's words, an
	// answer it does not have) not sent.
	minNearMissRate float64
}

// The development set (Crumb & Co., a café) is the one the built-in
// provider may be tuned on; the held-out set (Spoke & Sprocket, a bike
// workshop) was written separately and frozen before tuning, and says how
// the provider does on a business it was not tuned for.
var evalSets = []evalSet{
	{name: "dev", minHitRate: 0.95, minAccuracy: 0.85, maxWrongRate: 0.02, minRefusalRate: 0.95, minNearMissRate: 0.90, minDraftAccuracy: 0.88},
	{name: "heldout", minHitRate: 0.90, minAccuracy: 0.46, maxWrongRate: 0.07, minRefusalRate: 0.92, minNearMissRate: 0.90, minDraftAccuracy: 0.62},
}

type evalQuestions struct {
	Answerable []struct {
		Question string `json:"question"`
		Fact     string `json:"fact"`
		Doc      string `json:"doc"`
	} `json:"answerable"`
	Unanswerable []struct {
		Question string `json:"question"`
	} `json:"unanswerable"`
	NearMiss []struct {
		Question string `json:"question"`
	} `json:"nearmiss"`
}

type evalPassage struct {
	doc     string
	passage ai.Passage
}

// evalIndex searches the passages through the embedded vector store
// (core/vector) on a SQLite database, as the service does.
type evalIndex struct {
	store    *vector.Embedded
	space    vector.Space
	passages map[string]evalPassage
}

const evalWorkspace = "ws_eval"

func (ix evalIndex) search(t *testing.T, ctx context.Context, q []float32, k int) []evalPassage {
	t.Helper()
	hits, err := ix.store.Search(ctx, ix.space, evalWorkspace, q, k, vector.Filter{})
	require.NoError(t, err)
	out := make([]evalPassage, len(hits))
	for i, h := range hits {
		p := ix.passages[h.ID]
		p.passage.Score = float64(h.Score)
		out[i] = p
	}
	return out
}

func buildEvalIndex(t *testing.T, ctx context.Context, emb ai.Embedder, set string) (evalIndex, map[string]string) {
	t.Helper()
	db := testenv.SQLiteDB(t)
	vs, err := vector.NewEmbedded(db, vector.DialectSQLite)
	require.NoError(t, err)
	require.NoError(t, vs.Migrate(ctx))
	ix := evalIndex{store: vs, space: vector.Space{Model: emb.Model(), Dimension: emb.Dimension()}, passages: map[string]evalPassage{}}
	var records []vector.Record
	dir := filepath.Join("testdata", "eval", set, "docs")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	texts := map[string]string{}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		format, err := ParseFormat(filepath.Ext(e.Name()))
		require.NoError(t, err)
		doc, err := Extract(format, string(raw))
		require.NoError(t, err)
		texts[e.Name()] = doc.Text()
		chunks := ChunkDocument(doc, DefaultOptions)
		require.NotEmpty(t, chunks, e.Name())
		inputs := make([]string, len(chunks))
		for i, c := range chunks {
			inputs[i] = c.EmbeddingText(doc.Title)
		}
		vecs, err := emb.Embed(ctx, inputs)
		require.NoError(t, err)
		for i, c := range chunks {
			id := e.Name() + "#" + string(rune('0'+c.Index/10)) + string(rune('0'+c.Index%10))
			ix.passages[id] = evalPassage{
				doc: e.Name(),
				passage: ai.Passage{
					ID:    id,
					Title: c.Path(doc.Title),
					Text:  c.Text,
				},
			}
			records = append(records, vector.Record{ID: id, WorkspaceID: evalWorkspace, DocumentID: e.Name(), Vector: vecs[i]})
		}
	}
	require.NoError(t, vs.Upsert(ctx, ix.space, records))
	return ix, texts
}

// TestEval runs the built-in pipeline end to end on each evaluation set:
// retrieval hit rate@5, answer accuracy in AUTO and DRAFT mode, wrong
// answers sent, and refusals of unanswerable and near-miss questions, all
// at ai.DefaultConfidenceThreshold. "Sent" is ai.Answer.Sendable, the rule
// the agent applies in AUTO mode (core/agent.Decide).
func TestEval(t *testing.T) {
	t.Parallel()
	for _, set := range evalSets {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			runEval(t, set)
		})
	}
}

func runEval(t *testing.T, set evalSet) {
	ctx := context.Background()
	provider := builtin.New()

	raw, err := os.ReadFile(filepath.Join("testdata", "eval", set.name, "questions.json"))
	require.NoError(t, err)
	var qs evalQuestions
	require.NoError(t, json.Unmarshal(raw, &qs))
	require.GreaterOrEqual(t, len(qs.Answerable), 40)
	require.GreaterOrEqual(t, len(qs.Unanswerable), 12)
	require.GreaterOrEqual(t, len(qs.NearMiss), 10)

	ix, texts := buildEvalIndex(t, ctx, provider.Embedder(), set.name)
	threshold := ai.DefaultConfidenceThreshold

	ask := func(q string) ([]evalPassage, *ai.Answer, bool) {
		qv, err := provider.Embedder().Embed(ctx, []string{q})
		require.NoError(t, err)
		hits := ix.search(t, ctx, qv[0], evalTopK)
		passages := make([]ai.Passage, len(hits))
		for i, h := range hits {
			passages[i] = h.passage
		}
		ans, err := provider.Answer(ctx, ai.AnswerRequest{Question: q, Passages: passages})
		require.NoError(t, err)
		return hits, ans, ans.Sendable(threshold)
	}

	var hit, correct, wrong, drafted int
	for _, q := range qs.Answerable {
		// The fact must be in the extracted document, or the question tests
		// the extractor's mistakes rather than the answerer.
		require.Contains(t, strings.ToLower(texts[q.Doc]), strings.ToLower(q.Fact), "fact of %q not in %s", q.Question, q.Doc)
		hits, ans, sent := ask(q.Question)
		found := false
		for _, h := range hits {
			found = found || h.doc == q.Doc
		}
		if found {
			hit++
		}
		hasFact := strings.Contains(strings.ToLower(ans.Text), strings.ToLower(q.Fact))
		if !ans.Refused && ans.Confidence >= threshold && hasFact {
			drafted++ // what DRAFT mode puts before a person
		}
		switch {
		case sent && hasFact:
			correct++
			require.NotEmpty(t, ans.Citations, q.Question)
		case sent:
			wrong++
			t.Logf("WRONG %-50q want %q (retrieved=%v conf=%.2f) unsupported=%v: %q", q.Question, q.Fact, found, ans.Confidence, ans.Unsupported, ans.Text)
		default:
			t.Logf("MISS  %-50q want %q (retrieved=%v conf=%.2f) unsupported=%v: %q", q.Question, q.Fact, found, ans.Confidence, ans.Unsupported, ans.Text)
		}
	}
	refusals := func(kind string, questions []string) int {
		n := 0
		for _, q := range questions {
			if _, ans, sent := ask(q); sent {
				t.Logf("ANSWERED %-9s %-40q conf=%.2f unsupported=%v: %q", kind, q, ans.Confidence, ans.Unsupported, ans.Text)
			} else {
				n++
			}
		}
		return n
	}
	var unanswerable, nearMiss []string
	for _, q := range qs.Unanswerable {
		unanswerable = append(unanswerable, q.Question)
	}
	for _, q := range qs.NearMiss {
		nearMiss = append(nearMiss, q.Question)
	}
	refused, refusedNear := refusals("unanswerable", unanswerable), refusals("near-miss", nearMiss)

	n := float64(len(qs.Answerable))
	hitRate, accuracy, wrongRate, draftRate := float64(hit)/n, float64(correct)/n, float64(wrong)/n, float64(drafted)/n
	refusal, nearRefusal := float64(refused)/float64(len(unanswerable)), float64(refusedNear)/float64(len(nearMiss))
	t.Logf("EVAL %s  docs=%d chunks=%d answerable=%d unanswerable=%d near-miss=%d threshold=%.2f",
		set.name, len(texts), len(ix.passages), len(qs.Answerable), len(unanswerable), len(nearMiss), threshold)
	t.Logf("EVAL %s  hit@%d %.3f (%d/%d)  accuracy %.3f (%d/%d)  wrong sent %.3f (%d/%d)  unanswerable refused %.3f (%d/%d)  near-miss refused %.3f (%d/%d)  draft accuracy %.3f (%d/%d)",
		set.name, evalTopK, hitRate, hit, len(qs.Answerable), accuracy, correct, len(qs.Answerable), wrongRate, wrong, len(qs.Answerable),
		refusal, refused, len(unanswerable), nearRefusal, refusedNear, len(nearMiss), draftRate, drafted, len(qs.Answerable))

	require.GreaterOrEqual(t, hitRate, set.minHitRate, "retrieval hit rate@5")
	require.GreaterOrEqual(t, accuracy, set.minAccuracy, "answer accuracy")
	require.LessOrEqual(t, wrongRate, set.maxWrongRate, "wrong answers sent")
	require.GreaterOrEqual(t, refusal, set.minRefusalRate, "refusal rate on unanswerable questions")
	require.GreaterOrEqual(t, nearRefusal, set.minNearMissRate, "refusal rate on near-miss questions")
	require.GreaterOrEqual(t, draftRate, set.minDraftAccuracy, "draft accuracy")
}
