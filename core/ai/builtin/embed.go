package builtin

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
)

// Built-in embedding model identity. Bump the version whenever tokenisation or
// hashing changes: stored vectors become incomparable and must be re-indexed.
const (
	EmbeddingModel     = "neksio-hash-384-v1"
	EmbeddingDimension = 384
)

// Feature group weights. Words carry the topic; character n-grams make typos
// and word forms still match ("delivry" ~ "delivery"); bigrams reward phrases.
// Each group is normalised before mixing so long words do not let character
// n-grams drown the words.
const (
	weightWords   = 0.55
	weightBigrams = 0.15
	weightChars   = 0.30
	// stopwordWeight keeps stopwords as weak evidence instead of none, so a
	// question made only of them still has a direction.
	stopwordWeight = 0.2
	conceptWeight  = 0.6
)

type hashEmbedder struct{}

func (hashEmbedder) Model() string  { return EmbeddingModel }
func (hashEmbedder) Dimension() int { return EmbeddingDimension }

func (hashEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("builtin embed: %w", err)
		}
		out[i] = embedText(t)
	}
	return out, nil
}

// featureBag accumulates weighted feature counts for one group.
type featureBag map[string]*struct{ count, weight float64 }

func (b featureBag) add(f string, w float64) {
	e := b[f]
	if e == nil {
		e = &struct{ count, weight float64 }{}
		b[f] = e
	}
	e.count++
	e.weight = math.Max(e.weight, w)
}

// vector hashes the bag into dim signed buckets with sublinear tf
// (1+ln count) and normalises it.
func (b featureBag) vector() []float64 {
	v := make([]float64, EmbeddingDimension)
	for f, e := range b {
		h := fnv.New64a()
		h.Write([]byte(f))
		x := h.Sum64()
		idx := x % EmbeddingDimension
		val := e.weight * (1 + math.Log(e.count))
		if x>>63 == 1 {
			val = -val
		}
		v[idx] += val
	}
	normalize64(v)
	return v
}

// embedText is the whole built-in embedding model: deterministic, no state.
// An empty or symbol-only text yields the zero vector (cosine 0 to all).
func embedText(s string) []float32 {
	words, bigrams, chars := featureBag{}, featureBag{}, featureBag{}
	var prev string
	for _, t := range terms(s) {
		if t.stop {
			words.add("w:"+t.text, stopwordWeight)
			continue
		}
		words.add("w:"+t.text, 1)
		if t.concept != "" {
			words.add("c:"+t.concept, conceptWeight)
		}
		if prev != "" {
			bigrams.add("b:"+prev+" "+t.text, 1)
		}
		prev = t.text
		rs := []rune("<" + t.text + ">")
		for n := 3; n <= 5; n++ {
			for i := 0; i+n <= len(rs); i++ {
				chars.add("g:"+string(rs[i:i+n]), 1)
			}
		}
	}
	out := make([]float64, EmbeddingDimension)
	for _, g := range []struct {
		bag featureBag
		w   float64
	}{{words, weightWords}, {bigrams, weightBigrams}, {chars, weightChars}} {
		if len(g.bag) == 0 {
			continue
		}
		for i, x := range g.bag.vector() {
			out[i] += g.w * x
		}
	}
	normalize64(out)
	v := make([]float32, len(out))
	for i, x := range out {
		v[i] = float32(x)
	}
	return v
}

func normalize64(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s == 0 {
		return
	}
	n := math.Sqrt(s)
	for i := range v {
		v[i] /= n
	}
}

// Normalize scales v to unit length in place (no-op for the zero vector).
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(math.Sqrt(s))
	for i := range v {
		v[i] /= n
	}
}

// Cosine is the cosine similarity of two vectors of equal length; 0 when
// either is zero or lengths differ.
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
