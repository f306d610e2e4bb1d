package knowledge

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neksio/neksio/core/ai/builtin"
)

// Options tune chunking.
type Options struct {
	// MaxChars is the most characters (bytes) of body text in one chunk;
	// zero means DefaultMaxChars. A single word longer than this is cut.
	MaxChars int
	// Overlap is the most characters of trailing sentences repeated at the
	// start of the next chunk of the same section, so a fact split across
	// a boundary is whole in one of them. Zero means no overlap.
	Overlap int
}

// Default chunk sizes: about 150 words, small enough that a retrieved chunk
// is about one thing, large enough to hold a question's whole answer.
const (
	DefaultMaxChars = 900
	DefaultOverlap  = 150
)

// DefaultOptions are the sizes the indexer uses unless told otherwise.
var DefaultOptions = Options{MaxChars: DefaultMaxChars, Overlap: DefaultOverlap}

// HeadingSeparator joins a chunk's heading path.
const HeadingSeparator = " > "

// Chunk is a passage of a document.
type Chunk struct {
	// Index is the chunk's position in the document, from 0.
	Index int
	// Heading is the section's heading path joined with HeadingSeparator.
	Heading string
	// Text is Document.Text()[Start:End].
	Text       string
	Start, End int
}

// EmbeddingText is what to embed and show as the passage title context: the
// document title and heading path before the text, because "Mon–Fri 7–18" is
// only an answer to "when is Downtown open" next to its heading.
func (c Chunk) EmbeddingText(docTitle string) string {
	return joinNonEmpty("\n", c.Path(docTitle), c.Text)
}

// Path is the document title followed by the heading path, without
// repeating a title that is also the first heading.
func (c Chunk) Path(docTitle string) string {
	if docTitle == "" || c.Heading == docTitle || strings.HasPrefix(c.Heading, docTitle+HeadingSeparator) {
		return c.Heading
	}
	return joinNonEmpty(HeadingSeparator, docTitle, c.Heading)
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// bodySpan locates one section's body in the rendering.
type bodySpan struct {
	heading string
	start   int
	blocks  [][2]int // each block's range in the rendering
}

func (d *Document) render() (string, []bodySpan) {
	var sb strings.Builder
	var spans []bodySpan
	for i, s := range d.Sections {
		if i > 0 {
			sb.WriteString("\n\n")
		}
		heading := strings.Join(s.Heading, HeadingSeparator)
		if len(s.Heading) > 0 {
			sb.WriteString(s.Heading[len(s.Heading)-1])
			sb.WriteString("\n\n")
		}
		sp := bodySpan{heading: heading, start: sb.Len()}
		for j, bl := range s.Blocks {
			if j > 0 {
				sb.WriteString("\n\n")
			}
			st := sb.Len()
			sb.WriteString(bl)
			sp.blocks = append(sp.blocks, [2]int{st, sb.Len()})
		}
		spans = append(spans, sp)
	}
	return sb.String(), spans
}

// piece is a sentence (or a word-cut part of an overlong one).
type piece struct {
	start, end int
	paraStart  bool // first piece of a block: a good place to cut
}

// ChunkDocument cuts a document into chunks. It never crosses a section boundary;
// inside a section it fills chunks sentence by sentence up to MaxChars,
// cutting at a paragraph end when one falls in the second half of the chunk,
// and starts the next chunk with the last sentences of the previous one up to
// Overlap characters.
func ChunkDocument(d *Document, opts Options) []Chunk {
	if opts.MaxChars <= 0 {
		opts.MaxChars = DefaultMaxChars
	}
	if opts.Overlap < 0 || opts.Overlap >= opts.MaxChars {
		opts.Overlap = 0
	}
	full, spans := d.render()
	var chunks []Chunk
	for _, sp := range spans {
		var pieces []piece
		for _, bl := range sp.blocks {
			first := true
			for _, s := range builtin.SentenceSpans(full[bl[0]:bl[1]]) {
				for _, w := range splitLong(full, bl[0]+s[0], bl[0]+s[1], opts.MaxChars) {
					pieces = append(pieces, piece{w[0], w[1], first})
					first = false
				}
			}
		}
		for _, c := range pack(pieces, opts) {
			chunks = append(chunks, Chunk{
				Index:   len(chunks),
				Heading: sp.heading,
				Text:    full[c[0]:c[1]],
				Start:   c[0],
				End:     c[1],
			})
		}
	}
	return chunks
}

// pack groups pieces into chunk ranges.
func pack(ps []piece, opts Options) [][2]int {
	var out [][2]int
	i := 0
	for i < len(ps) {
		j := i // pieces [i, j] fit
		for j+1 < len(ps) && ps[j+1].end-ps[i].start <= opts.MaxChars {
			j++
		}
		if j+1 < len(ps) {
			// Prefer ending at a paragraph boundary in the second half.
			for k := j; k > i; k-- {
				if ps[k+1].paraStart && ps[k].end-ps[i].start >= opts.MaxChars/2 {
					j = k
					break
				}
			}
		}
		out = append(out, [2]int{ps[i].start, ps[j].end})
		if j+1 >= len(ps) {
			break
		}
		// Overlap: back up over trailing sentences of this chunk that fit in
		// Overlap and still leave room for the next piece; always advance.
		next := j + 1
		for k := j; k > i; k-- {
			if ps[j].end-ps[k].start > opts.Overlap || ps[next].end-ps[k].start > opts.MaxChars {
				break
			}
			next = k
		}
		i = next
	}
	return out
}

// splitLong cuts [start,end) of s into parts of at most max bytes at
// whitespace; a single word longer than max is cut at a rune boundary.
func splitLong(s string, start, end, max int) [][2]int {
	var out [][2]int
	for end-start > max {
		cut := start + max
		for cut > start && !utf8.RuneStart(s[cut]) {
			cut--
		}
		// back up to whitespace so no word is split
		ws := cut
		for ws > start && !unicode.IsSpace(rune(s[ws])) {
			ws--
		}
		if ws > start {
			cut = ws
		}
		e := cut
		for e > start && unicode.IsSpace(rune(s[e-1])) {
			e--
		}
		out = append(out, [2]int{start, e})
		start = cut
		for start < end && unicode.IsSpace(rune(s[start])) {
			start++
		}
	}
	if end > start {
		out = append(out, [2]int{start, end})
	}
	return out
}
