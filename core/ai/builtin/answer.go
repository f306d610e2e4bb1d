package builtin

import (
	edlib "github.com/hbollon/go-edlib"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neksio/neksio/core/ai"
)

// AnswerModel names the extractive answerer in stored answers.
const AnswerModel = "neksio-extractive-v1"

// answerFloor is the sentence score below which the built-in answerer
// refuses: nothing in the passages is close enough to be an answer. It sits
// below DefaultConfidenceThreshold so weak answers still come back as drafts
// with their (low) confidence instead of vanishing.
const answerFloor = 0.22

// Sentence score mix: how much of the question's specific vocabulary the
// sentence (with its heading) covers is the strongest signal; embedding
// similarity catches paraphrase and typos; retrieval rank breaks ties.
const (
	mixCoverage  = 0.55
	mixSimilar   = 0.30
	mixRetrieval = 0.15
	// titleCredit is how much a question word found only in the passage
	// title/heading counts: context, but weaker than the sentence itself.
	titleCredit = 0.7
	// typeCredit weighs an expected answer type against an average question
	// word.
	typeCredit = 0.8
)

// scoredSentence is a candidate answer: n consecutive sentences of a passage
// starting at index.
type scoredSentence struct {
	passage  int
	index    int
	n        int
	text     string
	parts    []string
	score    float64
	coverage float64
	sim      float64
}

// pairPenalty makes a two-sentence window win only when the second sentence
// adds coverage, not merely by being longer.
const pairPenalty = 0.95

// extractiveAnswer answers from the passages by picking their best sentences.
func extractiveAnswer(req ai.AnswerRequest) *ai.Answer {
	ans := &ai.Answer{Model: AnswerModel}
	prompt := req.Question
	for _, p := range req.Passages {
		prompt += " " + p.Title + " " + p.Text
	}
	ans.Usage.PromptTokens = estimateTokens(prompt)
	defer func() {
		ans.Usage.CompletionTokens = estimateTokens(ans.Text)
		ans.Usage.TotalTokens = ans.Usage.PromptTokens + ans.Usage.CompletionTokens
	}()

	types := questionTypes(req.Question)
	qTerms := termsWithConcepts(req.Question)
	if len(types) > 0 {
		kept := qTerms[:0]
		for _, q := range qTerms {
			if !questionWords[q.text] {
				kept = append(kept, q)
			}
		}
		qTerms = kept
	}
	if len(qTerms) == 0 || len(req.Passages) == 0 {
		ans.Refused = true
		return ans
	}
	qVec := embedText(req.Question)

	type sent struct {
		passage, index int
		text           string
		terms          []term
	}
	var sents []sent
	titleTerms := make([][]term, len(req.Passages))
	for pi, p := range req.Passages {
		titleTerms[pi] = terms(p.Title)
		for si, s := range Sentences(p.Text) {
			sents = append(sents, sent{pi, si, s, terms(s)})
		}
	}
	// Question words weigh by how rare they are among these sentences; a word
	// found nowhere gets the highest weight, so a question about something the
	// passages never mention (parking, wifi) cannot be covered by its generic
	// words alone.
	n := float64(len(sents))
	weights := make([]float64, len(qTerms))
	var total float64
	for i, q := range qTerms {
		df := 0
		for _, s := range sents {
			if matchTerms(q, s.terms) > 0 {
				df++
			}
		}
		weights[i] = math.Log(1 + (n+1)/(float64(df)+0.5))
		total += weights[i]
	}
	// Expected answer types count as one more, softer, question term: a
	// sentence with a price answers "how much" better than one without.
	typeWeight := 0.0
	if len(qTerms) > 0 {
		typeWeight = typeCredit * total / float64(len(qTerms))
	}
	total += typeWeight * float64(len(types))

	maxRetr := 0.0
	for _, p := range req.Passages {
		maxRetr = math.Max(maxRetr, p.Score)
	}
	coverage := func(ts []term, text string, pi int) float64 {
		var cov float64
		for i, q := range qTerms {
			m := math.Max(matchTerms(q, ts), titleCredit*matchTerms(q, titleTerms[pi]))
			cov += weights[i] * m
		}
		folded := fold(text)
		for _, t := range types {
			if t.pattern.MatchString(folded) {
				cov += typeWeight
			}
		}
		return cov / total
	}
	// Candidates are windows of one or two consecutive sentences of a
	// passage: a fact is often split ("Zone 2 covers Fratton." + "The fee for
	// Zone 2 is £3.95."). A pair must beat a single sentence on its own merit.
	var scored []scoredSentence
	for k, s := range sents {
		if !hasWordChar(s.text) {
			continue
		}
		windows := [][]int{{k}}
		if k+1 < len(sents) && sents[k+1].passage == s.passage && hasWordChar(sents[k+1].text) {
			windows = append(windows, []int{k, k + 1})
		}
		for _, w := range windows {
			var ts []term
			var texts []string
			for _, x := range w {
				ts = append(ts, sents[x].terms...)
				texts = append(texts, sents[x].text)
			}
			text := strings.Join(texts, " ")
			cov := coverage(ts, text, s.passage)
			p := req.Passages[s.passage]
			sim := 0.6*Cosine(qVec, embedText(text)) + 0.4*Cosine(qVec, embedText(p.Title+" "+text))
			retr := 1 / float64(1+s.passage) // unknown scores: trust the order
			if maxRetr > 0 {
				retr = 0.5*clamp01(p.Score) + 0.5*clamp01(p.Score/maxRetr)
			}
			score := mixCoverage*cov + mixSimilar*clamp01(sim) + mixRetrieval*retr
			score *= lengthPenalty(text)
			if len(w) == 2 {
				score *= pairPenalty
			}
			scored = append(scored, scoredSentence{passage: s.passage, index: s.index, n: len(w), text: text, parts: texts, score: score, coverage: cov, sim: sim})
		}
	}
	if len(scored) == 0 {
		ans.Refused = true
		return ans
	}
	sort.SliceStable(scored, func(i, j int) bool { return scored[i].score > scored[j].score })
	best := scored[0]
	ans.Confidence = confidence(best)
	if best.score < answerFloor {
		ans.Refused = true
		return ans
	}

	covers := func(c scoredSentence, passage, index int) bool {
		return c.passage == passage && index >= c.index && index < c.index+c.n
	}
	taken := func(cs []scoredSentence, passage, index int) bool {
		for _, c := range cs {
			if covers(c, passage, index) {
				return true
			}
		}
		return false
	}
	chosen := []scoredSentence{best}
	seen := map[string]bool{dedupKey(best.text): true}
	nsent := best.n
	// A sentence ending in ':' introduces a list; its items are the answer.
	if strings.HasSuffix(best.text, ":") {
		for _, s := range sents {
			if s.passage == best.passage && s.index >= best.index+best.n && s.index < best.index+best.n+3 && !seen[dedupKey(s.text)] {
				seen[dedupKey(s.text)] = true
				chosen = append(chosen, scoredSentence{passage: s.passage, index: s.index, n: 1, text: s.text, parts: []string{s.text}})
				nsent++
			}
		}
	}
	for _, s := range scored[1:] {
		if nsent+s.n > 3 {
			continue
		}
		if s.score < math.Max(answerFloor, 0.85*best.score) || s.coverage < 0.8*best.coverage || seen[dedupKey(s.text)] {
			continue
		}
		overlap := false
		for x := s.index; x < s.index+s.n; x++ {
			overlap = overlap || taken(chosen, s.passage, x)
		}
		if overlap {
			continue
		}
		seen[dedupKey(s.text)] = true
		chosen = append(chosen, s)
		nsent += s.n
	}
	sort.SliceStable(chosen, func(i, j int) bool {
		if chosen[i].passage != chosen[j].passage {
			return chosen[i].passage < chosen[j].passage
		}
		return chosen[i].index < chosen[j].index
	})
	var parts []string
	cited := map[string]bool{}
	for _, c := range chosen {
		for _, t := range c.parts {
			parts = append(parts, terminate(t))
		}
		id := req.Passages[c.passage].ID
		if !cited[id] {
			cited[id] = true
			ans.Citations = append(ans.Citations, id)
		}
	}
	ans.Text = strings.Join(parts, " ")
	support := make([][]term, len(chosen))
	for i, c := range chosen {
		support[i] = append(terms(c.text), titleTerms[c.passage]...)
	}
	ans.Unsupported = unsupported(termsWithConcepts(req.Question), ans.Text, support)
	return ans
}

// confidence maps the best candidate to [0,1]. Coverage says the question's
// specific words are answered; similarity says the candidate is about the
// same thing as a whole. Either alone is fooled: "can I buy a franchise"
// covers "buy" in "every hot drink you buy" but is not similar to it.
func confidence(best scoredSentence) float64 {
	c := confCoverage*best.coverage + (1-confCoverage)*clamp01(best.sim/simSaturation)
	return math.Round(clamp01(c)*1000) / 1000
}

const (
	confCoverage = 0.55
	// simSaturation is the similarity at which a candidate counts as fully
	// similar; hashed n-gram cosines between a question and its answer
	// sentence rarely exceed it.
	simSaturation = 0.6
)

// termsWithConcepts is the question's content terms; concept keys of words
// become their own entries so synonyms in the passages count.
func termsWithConcepts(s string) []term {
	seen := map[string]bool{}
	var out []term
	for _, t := range terms(s) {
		if t.stop || seen[t.text] {
			continue
		}
		seen[t.text] = true
		out = append(out, t)
	}
	return out
}

// matchTerms is how well q is found among ts: 1 for the same term, 0.8 for a
// probable typo or shared stem, 0.6 for a synonym via the thesaurus.
func matchTerms(q term, ts []term) float64 {
	best := 0.0
	for _, t := range ts {
		switch {
		case t.text == q.text:
			return 1
		case fuzzyEqual(q.text, t.text):
			best = math.Max(best, 0.8)
		case q.concept != "" && q.concept == t.concept:
			best = math.Max(best, 0.6)
		}
	}
	return best
}

// fuzzyEqual forgives one typo in words of five letters or more, two in long
// words, and a shared prefix of four letters or more ("deliver"/"delivery").
func fuzzyEqual(a, b string) bool {
	la, lb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	if la < 4 || lb < 4 {
		return false
	}
	if (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)) && absInt(la-lb) <= 3 {
		return true
	}
	if la < 5 || lb < 5 || absInt(la-lb) > 2 {
		return false
	}
	maxEdits := 1
	if la >= 8 && lb >= 8 {
		maxEdits = 2
	}
	if a[0] != b[0] && maxEdits == 1 {
		return false
	}
	return edlib.OSADamerauLevenshteinDistance(a, b) <= maxEdits
}

// lengthPenalty discourages fragments ("Yes.") and walls of text.
func lengthPenalty(s string) float64 {
	n := len(strings.Fields(s))
	switch {
	case n < 3:
		return 0.75
	case n > 60:
		return 0.75
	case n > 40:
		return 0.9
	}
	return 1
}

func dedupKey(s string) string { return strings.Join(rawWords(fold(s)), " ") }

// terminate ends a list item or table row with a period so joined sentences
// read as prose.
func terminate(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "-*• ")
	if s == "" {
		return s
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ')' {
		return s + "."
	}
	return s
}

func hasWordChar(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
