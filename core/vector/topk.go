package vector

import "math"

// topK keeps the k best candidates seen so far in a min-heap whose root is
// the worst kept candidate, so each new candidate costs one comparison unless
// it enters the heap.
type topK struct {
	k     int
	items []cand
	ids   []string // IDs by index, used only to break score ties
}

type cand struct {
	idx   int
	score float32
}

func newTopK(k int, ids []string) *topK {
	return &topK{k: k, items: make([]cand, 0, min(k, len(ids))), ids: ids}
}

// worse orders candidates: a lower score is worse, and on equal scores the
// larger ID is worse, so results are deterministic.
func (t *topK) worse(a, b cand) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return t.ids[a.idx] > t.ids[b.idx]
}

// threshold is the score a candidate must reach to be considered; it lets the
// scan loop skip the heap for most vectors.
func (t *topK) threshold() float32 {
	if len(t.items) < t.k {
		return float32(math.Inf(-1))
	}
	return t.items[0].score
}

func (t *topK) push(c cand) {
	if len(t.items) < t.k {
		t.items = append(t.items, c)
		t.up(len(t.items) - 1)
		return
	}
	if !t.worse(t.items[0], c) {
		return
	}
	t.items[0] = c
	t.down(0)
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.worse(t.items[i], t.items[p]) {
			return
		}
		t.items[i], t.items[p] = t.items[p], t.items[i]
		i = p
	}
}

func (t *topK) down(i int) {
	n := len(t.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.worse(t.items[r], t.items[l]) {
			m = r
		}
		if !t.worse(t.items[m], t.items[i]) {
			return
		}
		t.items[i], t.items[m] = t.items[m], t.items[i]
		i = m
	}
}

// sorted drains the heap, best first.
func (t *topK) sorted() []cand {
	out := make([]cand, len(t.items))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = t.items[0]
		last := len(t.items) - 1
		t.items[0] = t.items[last]
		t.items = t.items[:last]
		t.down(0)
	}
	return out
}

// dot is the inner product of two equal-length slices, unrolled because the
// Go compiler does not vectorize this loop and search time is dominated by it.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// normalizeInto writes v scaled to unit length into dst.
func normalizeInto(dst, v []float32, norm float64) {
	inv := 1 / norm
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
}
