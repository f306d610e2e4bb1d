package knowledge_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/knowledge"
)

// checkChunks holds the invariants every chunking must keep.
func checkChunks(t *testing.T, doc *knowledge.Document, chunks []knowledge.Chunk, opts knowledge.Options) {
	t.Helper()
	full := doc.Text()
	for i, c := range chunks {
		require.Equal(t, i, c.Index)
		require.Equal(t, full[c.Start:c.End], c.Text, "Text is the rendering's slice")
		require.LessOrEqual(t, len(c.Text), opts.MaxChars)
		require.NotEmpty(t, strings.TrimSpace(c.Text))
		require.True(t, utf8.ValidString(c.Text))
		// never mid-word: the characters just outside a chunk are not letters
		// continuing a word inside it
		if c.Start > 0 {
			before, _ := utf8.DecodeLastRuneInString(full[:c.Start])
			first, _ := utf8.DecodeRuneInString(c.Text)
			require.False(t, isWord(before) && isWord(first), "chunk %d starts mid-word", i)
		}
		if c.End < len(full) {
			after, _ := utf8.DecodeRuneInString(full[c.End:])
			last, _ := utf8.DecodeLastRuneInString(c.Text)
			require.False(t, isWord(after) && isWord(last), "chunk %d ends mid-word", i)
		}
	}
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func TestChunkSectionsAndHeadings(t *testing.T) {
	t.Parallel()
	doc, err := knowledge.Extract(knowledge.FormatMarkdown, "# Café\n\nWelcome.\n\n## Hours\n\n### Old Town\n\nOpen 8am to 4pm.\n\n## Delivery\n\nWe deliver daily.")
	require.NoError(t, err)
	opts := knowledge.DefaultOptions
	chunks := knowledge.ChunkDocument(doc, opts)
	checkChunks(t, doc, chunks, opts)
	require.Len(t, chunks, 3, "one chunk per section: chunks never cross a heading")
	require.Equal(t, "Café > Hours > Old Town", chunks[1].Heading)
	require.Equal(t, "Open 8am to 4pm.", chunks[1].Text)
	require.Equal(t, "Café > Hours > Old Town\nOpen 8am to 4pm.", chunks[1].EmbeddingText(doc.Title))
	require.Equal(t, "Menu > Café > Delivery", chunks[2].Path("Menu"))
}

func TestChunkHugeParagraphOverlap(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	for i := 0; i < 60; i++ {
		sb.WriteString("Sentence number ")
		sb.WriteString(strings.Repeat("x", i%7+1))
		sb.WriteString(" tells one more fact about our bakery. ")
	}
	doc, err := knowledge.Extract(knowledge.FormatText, sb.String())
	require.NoError(t, err)
	opts := knowledge.Options{MaxChars: 300, Overlap: 120}
	chunks := knowledge.ChunkDocument(doc, opts)
	checkChunks(t, doc, chunks, opts)
	require.Greater(t, len(chunks), 5)
	for i := 1; i < len(chunks); i++ {
		prev, cur := chunks[i-1], chunks[i]
		require.Less(t, cur.Start, prev.End, "chunk %d overlaps the previous one", i)
		require.Greater(t, cur.Start, prev.Start, "chunks advance")
		require.LessOrEqual(t, prev.End-cur.Start, opts.Overlap)
		require.True(t, strings.HasPrefix(cur.Text, "Sentence number"), "overlap starts at a sentence: %q", cur.Text)
	}
	require.Equal(t, len(doc.Text()), chunks[len(chunks)-1].End, "the whole text is covered")
}

func TestChunkPrefersParagraphBreaks(t *testing.T) {
	t.Parallel()
	p1 := strings.Repeat("Alpha beta gamma. ", 10) // ~180 chars
	p2 := strings.Repeat("Delta epsilon zeta. ", 10)
	doc, err := knowledge.Extract(knowledge.FormatText, p1+"\n\n"+p2)
	require.NoError(t, err)
	chunks := knowledge.ChunkDocument(doc, knowledge.Options{MaxChars: 300})
	require.Len(t, chunks, 2)
	require.Equal(t, strings.TrimSpace(p1), chunks[0].Text)
	require.Equal(t, strings.TrimSpace(p2), chunks[1].Text)
}

func TestChunkEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		doc, err := knowledge.Extract(knowledge.FormatMarkdown, "")
		require.NoError(t, err)
		require.Empty(t, knowledge.ChunkDocument(doc, knowledge.DefaultOptions))
	})
	t.Run("OneHugeWord", func(t *testing.T) {
		t.Parallel()
		doc, err := knowledge.Extract(knowledge.FormatText, strings.Repeat("ä", 500))
		require.NoError(t, err)
		chunks := knowledge.ChunkDocument(doc, knowledge.Options{MaxChars: 101, Overlap: 20})
		require.Len(t, chunks, 10, "1000 bytes cut at rune boundaries")
		var joined string
		for _, c := range chunks {
			require.True(t, utf8.ValidString(c.Text))
			require.LessOrEqual(t, len(c.Text), 101)
			joined += c.Text
		}
		require.Equal(t, doc.Text(), joined)
	})
	t.Run("Unicode", func(t *testing.T) {
		t.Parallel()
		text := strings.Repeat("Les croissants sont délicieux 🥐. 東京の店は九時に開きます。 Ñandú café. ", 20)
		doc, err := knowledge.Extract(knowledge.FormatText, text)
		require.NoError(t, err)
		opts := knowledge.Options{MaxChars: 200, Overlap: 60}
		chunks := knowledge.ChunkDocument(doc, opts)
		checkChunks(t, doc, chunks, opts)
		require.Greater(t, len(chunks), 3)
	})
	t.Run("BadOptions", func(t *testing.T) {
		t.Parallel()
		doc, err := knowledge.Extract(knowledge.FormatText, strings.Repeat("Word after word. ", 200))
		require.NoError(t, err)
		chunks := knowledge.ChunkDocument(doc, knowledge.Options{MaxChars: 0, Overlap: 5000})
		checkChunks(t, doc, chunks, knowledge.DefaultOptions)
		for i := 1; i < len(chunks); i++ {
			require.GreaterOrEqual(t, chunks[i].Start, chunks[i-1].End, "overlap >= MaxChars is ignored")
		}
	})
}
