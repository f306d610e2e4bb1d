package knowledge

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	gast "github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Format is a document's source format, as stored with the document.
type Format string

// Supported formats.
const (
	FormatText     Format = "TEXT"
	FormatMarkdown Format = "MARKDOWN"
	FormatHTML     Format = "HTML"
)

// ErrUnsupportedFormat is returned for formats Extract cannot read.
var ErrUnsupportedFormat = errors.New("knowledge: unsupported format")

// ParseFormat accepts a format name, a file extension or a MIME type
// ("markdown", "md", ".md", "text/markdown", "html", "text/html", "txt").
func ParseFormat(s string) (Format, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimPrefix(v, ".")
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	switch v {
	case "text", "txt", "text/plain", "plain":
		return FormatText, nil
	case "markdown", "md", "text/markdown", "text/x-markdown":
		return FormatMarkdown, nil
	case "html", "htm", "text/html", "application/xhtml+xml":
		return FormatHTML, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedFormat, s)
}

// Document is extracted text organised by headings.
type Document struct {
	// Title is the first top-level heading (or HTML <title>); may be empty.
	Title    string
	Sections []Section
}

// Section is the text under one heading.
type Section struct {
	// Heading is the path of headings above and including this one,
	// outermost first; empty for text before the first heading.
	Heading []string
	// Blocks are paragraphs, list items, table rows and code blocks, in order,
	// whitespace-normalised. Line breaks inside a block are kept.
	Blocks []string
}

// Text renders the document as plain text: each heading on its own line,
// blocks separated by blank lines. Chunk offsets refer to this rendering.
func (d *Document) Text() string {
	r, _ := d.render()
	return r
}

// Extract reads content in the given format. Invalid UTF-8 is replaced
// rather than rejected: documents come from users' files.
func Extract(format Format, content string) (*Document, error) {
	content = strings.ToValidUTF8(content, "\uFFFD")
	content = strings.ReplaceAll(content, "\r\n", "\n")
	var b builder
	switch format {
	case FormatText:
		extractText(&b, content)
	case FormatMarkdown:
		if err := extractMarkdown(&b, content); err != nil {
			return nil, fmt.Errorf("extract markdown: %w", err)
		}
	case FormatHTML:
		if err := extractHTML(&b, content); err != nil {
			return nil, fmt.Errorf("extract html: %w", err)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedFormat, format)
	}
	return b.doc(), nil
}

// builder collects sections while tracking the heading stack.
type builder struct {
	title    string
	stack    []string // headings by level-1; "" for skipped levels
	sections []Section
}

func (b *builder) heading(level int, t string) {
	t = cleanInline(t)
	if t == "" {
		return
	}
	if level < 1 {
		level = 1
	}
	if b.title == "" && level == 1 {
		b.title = t
	}
	for len(b.stack) < level-1 {
		b.stack = append(b.stack, "")
	}
	b.stack = append(b.stack[:level-1], t)
	var path []string
	for _, h := range b.stack {
		if h != "" {
			path = append(path, h)
		}
	}
	b.sections = append(b.sections, Section{Heading: path})
}

func (b *builder) block(t string) {
	t = cleanBlock(t)
	if t == "" {
		return
	}
	if len(b.sections) == 0 {
		b.sections = append(b.sections, Section{})
	}
	s := &b.sections[len(b.sections)-1]
	s.Blocks = append(s.Blocks, t)
}

func (b *builder) doc() *Document {
	d := &Document{Title: b.title}
	for _, s := range b.sections {
		// A heading with nothing under it still tells a reader where they
		// are, but as a chunk it would be noise: keep only sections with text.
		if len(s.Blocks) > 0 {
			d.Sections = append(d.Sections, s)
		}
	}
	return d
}

// cleanInline collapses all whitespace to single spaces.
func cleanInline(s string) string { return strings.Join(strings.Fields(s), " ") }

// cleanBlock collapses whitespace within lines and drops empty lines.
func cleanBlock(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = cleanInline(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// extractText treats blank lines as paragraph breaks and recognises two
// plain-text heading conventions: an underlined line (=== or ---) and a
// short ALL-CAPS line.
func extractText(b *builder, content string) {
	lines := strings.Split(content, "\n")
	var para []string
	flush := func() {
		b.block(strings.Join(para, "\n"))
		para = nil
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			flush()
			continue
		}
		if i+1 < len(lines) && len(para) == 0 && isUnderline(lines[i+1]) {
			flush()
			level := 1
			if strings.HasPrefix(strings.TrimSpace(lines[i+1]), "-") {
				level = 2
			}
			b.heading(level, l)
			i++
			continue
		}
		if len(para) == 0 && isCapsHeading(l) {
			flush()
			b.heading(2, l)
			continue
		}
		para = append(para, l)
	}
	flush()
}

func isUnderline(l string) bool {
	l = strings.TrimSpace(l)
	return len(l) >= 3 && (strings.Trim(l, "=") == "" || strings.Trim(l, "-") == "")
}

func isCapsHeading(l string) bool {
	if len(l) > 60 || strings.ContainsAny(l[len(l)-1:], ".!?,;") {
		return false
	}
	letters := 0
	for _, r := range l {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsLetter(r) {
			letters++
		}
	}
	return letters >= 3
}

// extractMarkdown walks goldmark's AST (with GFM tables).
func extractMarkdown(b *builder, content string) error {
	src := []byte(content)
	md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
	root := md.Parser().Parse(text.NewReader(src))
	var walk func(n gast.Node, listDepth int)
	walk = func(n gast.Node, listDepth int) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *gast.Heading:
				b.heading(c.Level, inlineText(c, src))
			case *gast.Paragraph, *gast.TextBlock:
				b.block(inlineText(c, src))
			case *gast.List:
				walk(c, listDepth+1)
			case *gast.ListItem:
				// An item's own text and its nested lists become separate
				// blocks, so each item can be found on its own.
				var own []string
				for cc := c.FirstChild(); cc != nil; cc = cc.NextSibling() {
					if _, ok := cc.(*gast.List); ok {
						continue
					}
					own = append(own, inlineText(cc, src))
				}
				b.block("- " + strings.Join(own, " "))
				for cc := c.FirstChild(); cc != nil; cc = cc.NextSibling() {
					if l, ok := cc.(*gast.List); ok {
						walk(l, listDepth+1)
					}
				}
			case *gast.Blockquote:
				walk(c, listDepth)
			case *gast.FencedCodeBlock, *gast.CodeBlock:
				var sb strings.Builder
				lines := c.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					sb.Write(seg.Value(src))
				}
				b.block(sb.String())
			case *east.Table:
				tableBlocks(b, mdTable(c, src))
			case *gast.HTMLBlock:
				var sb strings.Builder
				lines := c.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					sb.Write(seg.Value(src))
				}
				var hb builder
				if err := extractHTML(&hb, sb.String()); err == nil {
					for _, s := range hb.doc().Sections {
						for _, bl := range s.Blocks {
							b.block(bl)
						}
					}
				}
			case *gast.ThematicBreak:
			default:
				walk(c, listDepth)
			}
		}
	}
	walk(root, 0)
	return nil
}

// inlineText concatenates the text under n: text, code spans, link texts and
// autolinks; soft breaks become spaces, hard breaks newlines.
func inlineText(n gast.Node, src []byte) string {
	var sb strings.Builder
	_ = gast.Walk(n, func(c gast.Node, entering bool) (gast.WalkStatus, error) {
		if !entering {
			return gast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *gast.Text:
			sb.Write(c.Value(src))
			switch {
			case c.HardLineBreak():
				sb.WriteByte('\n')
			case c.SoftLineBreak():
				sb.WriteByte(' ')
			}
		case *gast.String:
			sb.Write(c.Value)
		case *gast.AutoLink:
			sb.Write(c.URL(src))
			return gast.WalkSkipChildren, nil
		case *gast.RawHTML:
			return gast.WalkSkipChildren, nil
		case *gast.Image:
			return gast.WalkSkipChildren, nil
		}
		return gast.WalkContinue, nil
	})
	return sb.String()
}

func mdTable(t *east.Table, src []byte) [][]string {
	var rows [][]string
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var row []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			row = append(row, cleanInline(inlineText(c, src)))
		}
		rows = append(rows, row)
	}
	return rows
}

// tableBlocks writes one block per body row. With a header row, cells become
// "Header: value" pairs so the row carries its own meaning into a chunk.
func tableBlocks(b *builder, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	header := rows[0]
	body := rows[1:]
	if len(body) == 0 {
		b.block(strings.Join(header, " | "))
		return
	}
	for _, row := range body {
		var parts []string
		for i, cell := range row {
			if cell == "" {
				continue
			}
			if i < len(header) && header[i] != "" {
				parts = append(parts, header[i]+": "+cell)
			} else {
				parts = append(parts, cell)
			}
		}
		b.block(strings.Join(parts, "; "))
	}
}

// skipped HTML elements carry no readable content, or navigation that would
// pollute every chunk of a page.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Nav: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Iframe: true, atom.Object: true, atom.Button: true, atom.Select: true,
	atom.Head: true, atom.Form: true,
}

// blockElems end the running paragraph when they start or end.
var blockElems = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true,
	atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Blockquote: true, atom.Pre: true,
	atom.Address: true, atom.Figure: true, atom.Figcaption: true, atom.Hr: true, atom.Body: true,
	atom.Details: true, atom.Summary: true,
}

var headingLevel = map[atom.Atom]int{atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6}

func extractHTML(b *builder, content string) error {
	root, err := html.Parse(strings.NewReader(content))
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	var buf strings.Builder
	prefix := ""
	flush := func() {
		if t := buf.String(); strings.TrimSpace(t) != "" {
			b.block(prefix + t)
		}
		buf.Reset()
		prefix = ""
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			// Newlines in HTML source are just spaces; <br> makes real ones.
			buf.WriteString(strings.ReplaceAll(n.Data, "\n", " "))
			return
		case html.ElementNode:
			if n.DataAtom == atom.Title && b.title == "" {
				b.title = cleanInline(textContent(n))
			}
			if skipped[n.DataAtom] {
				return
			}
			if lvl, ok := headingLevel[n.DataAtom]; ok {
				flush()
				b.heading(lvl, textContent(n))
				return
			}
			switch n.DataAtom {
			case atom.Br:
				buf.WriteByte('\n')
				return
			case atom.Table:
				flush()
				htmlTable(b, n)
				return
			case atom.Td, atom.Th:
				buf.WriteByte(' ')
			}
			if blockElems[n.DataAtom] {
				flush()
				if n.DataAtom == atom.Li {
					prefix = "- "
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				flush()
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	// The title is in <head>, which is otherwise skipped.
	if t := findFirst(root, atom.Title); t != nil {
		b.title = cleanInline(textContent(t))
	}
	walk(root)
	flush()
	return nil
}

func htmlTable(b *builder, t *html.Node) {
	var rows [][]string
	var caption string
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.DataAtom {
			case atom.Caption:
				caption = textContent(c)
			case atom.Tr:
				var row []string
				for cell := c.FirstChild; cell != nil; cell = cell.NextSibling {
					if cell.Type == html.ElementNode && (cell.DataAtom == atom.Td || cell.DataAtom == atom.Th) {
						row = append(row, cleanInline(textContent(cell)))
					}
				}
				rows = append(rows, row)
			case atom.Table:
				// nested tables are rare in documents; read them in place
				htmlTable(b, c)
			default:
				visit(c)
			}
		}
	}
	visit(t)
	if caption != "" {
		b.block(caption)
	}
	tableBlocks(b, rows)
}

func textContent(n *html.Node) string {
	var sb strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style) {
			return
		}
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Br {
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return sb.String()
}

func findFirst(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findFirst(c, a); f != nil {
			return f
		}
	}
	return nil
}
