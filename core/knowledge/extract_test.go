package knowledge_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/knowledge"
)

func TestExtractMarkdown(t *testing.T) {
	t.Parallel()
	doc, err := knowledge.Extract(knowledge.FormatMarkdown, `# Bike Shop

Intro with **bold** and a [link](https://example.com).

## Repairs

### Prices

- Puncture: £12
- Full service: £65
  - includes brake bleed

| Service | Time |
|---|---|
| Puncture | 30 min |

`+"```"+`
code stays
`+"```"+`

## Empty heading

## Returns
Returns within 30 days.
`)
	require.NoError(t, err)
	require.Equal(t, "Bike Shop", doc.Title)
	require.Len(t, doc.Sections, 3, "a heading with no text is dropped")
	require.Equal(t, []string{"Bike Shop"}, doc.Sections[0].Heading)
	require.Equal(t, []string{"Intro with bold and a link."}, doc.Sections[0].Blocks)
	require.Equal(t, []string{"Bike Shop", "Repairs", "Prices"}, doc.Sections[1].Heading)
	require.Equal(t, []string{
		"- Puncture: £12", "- Full service: £65", "- includes brake bleed",
		"Service: Puncture; Time: 30 min", "code stays",
	}, doc.Sections[1].Blocks)
	require.Equal(t, []string{"Bike Shop", "Returns"}, doc.Sections[2].Heading)
}

func TestExtractHTML(t *testing.T) {
	t.Parallel()
	doc, err := knowledge.Extract(knowledge.FormatHTML, `<!doctype html><html><head><title>Café  Menu</title>
<style>p{color:red}</style><script>var secret = "tracking";</script></head>
<body><nav><a href="/">Home</a><a href="/menu">Menu</a></nav>
<h1>Menu</h1>
<p>Prices include
   VAT.<br>Service is not included.</p>
<h2>Drinks</h2>
<ul><li>Flat white – £3.20</li><li>Tea <em>(pot)</em> – £2.50</li></ul>
<table><tr><th>Cake</th><th>Slice</th></tr><tr><td>Carrot</td><td>£3.50</td></tr></table>
<div>Loose div text <span>inline</span></div>
<footer><p>Call 023 9200 1144</p><script>track()</script></footer>
</body></html>`)
	require.NoError(t, err)
	require.Equal(t, "Café Menu", doc.Title)
	text := doc.Text()
	require.NotContains(t, text, "secret")
	require.NotContains(t, text, "color")
	require.NotContains(t, text, "Home")
	require.NotContains(t, text, "track()")
	require.Len(t, doc.Sections, 2)
	require.Equal(t, []string{"Menu"}, doc.Sections[0].Heading)
	require.Equal(t, []string{"Prices include VAT.\nService is not included."}, doc.Sections[0].Blocks)
	require.Equal(t, []string{"Menu", "Drinks"}, doc.Sections[1].Heading)
	require.Equal(t, []string{
		"- Flat white – £3.20", "- Tea (pot) – £2.50", "Cake: Carrot; Slice: £3.50",
		"Loose div text inline", "Call 023 9200 1144",
	}, doc.Sections[1].Blocks)
}

func TestExtractText(t *testing.T) {
	t.Parallel()
	doc, err := knowledge.Extract(knowledge.FormatText, "Returns\n=======\n\nWithin 30 days.\nKeep the receipt.\n\nDELIVERY AREAS\nZone 1: £2.50\r\nZone 2: £3.95\n\nFees\n----\nNone.")
	require.NoError(t, err)
	require.Equal(t, "Returns", doc.Title)
	require.Len(t, doc.Sections, 3)
	require.Equal(t, []string{"Returns"}, doc.Sections[0].Heading)
	require.Equal(t, []string{"Within 30 days.\nKeep the receipt."}, doc.Sections[0].Blocks)
	require.Equal(t, []string{"Returns", "DELIVERY AREAS"}, doc.Sections[1].Heading)
	require.Equal(t, []string{"Zone 1: £2.50\nZone 2: £3.95"}, doc.Sections[1].Blocks)
	require.Equal(t, []string{"Returns", "Fees"}, doc.Sections[2].Heading)
}

func TestExtractEdgeCases(t *testing.T) {
	t.Parallel()
	for _, f := range []knowledge.Format{knowledge.FormatText, knowledge.FormatMarkdown, knowledge.FormatHTML} {
		doc, err := knowledge.Extract(f, "")
		require.NoError(t, err, f)
		require.Empty(t, doc.Sections, f)
		require.Empty(t, doc.Text(), f)
	}
	_, err := knowledge.Extract("PDF", "x")
	require.ErrorIs(t, err, knowledge.ErrUnsupportedFormat)

	doc, err := knowledge.Extract(knowledge.FormatText, "bad \xff byte")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(doc.Text(), "bad "))

	doc, err = knowledge.Extract(knowledge.FormatMarkdown, "Just a line with no heading.")
	require.NoError(t, err)
	require.Len(t, doc.Sections, 1)
	require.Empty(t, doc.Sections[0].Heading)
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]knowledge.Format{
		"md": knowledge.FormatMarkdown, ".MD": knowledge.FormatMarkdown, "text/markdown; charset=utf-8": knowledge.FormatMarkdown,
		"html": knowledge.FormatHTML, "text/html": knowledge.FormatHTML, ".htm": knowledge.FormatHTML,
		"TEXT": knowledge.FormatText, ".txt": knowledge.FormatText,
	} {
		got, err := knowledge.ParseFormat(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := knowledge.ParseFormat("application/pdf")
	require.ErrorIs(t, err, knowledge.ErrUnsupportedFormat)
}
