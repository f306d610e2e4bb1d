// Package knowledge turns a business's documents into passages the agent can
// answer from.
//
// The pure pipeline lives in extract.go and chunk.go: [Extract] reads plain
// text, Markdown or HTML into a [Document] of sections, each with its heading
// path and its blocks (paragraphs, list items, table rows written as
// "Header: value" pairs so a row still makes sense on its own). [ChunkDocument] cuts a
// document into overlapping passages: never across a heading, preferably at
// paragraph ends, else at sentence ends, never mid-word, and every chunk
// carries its heading path so retrieval and answers keep their context.
//
// The evaluation in eval_test.go runs the whole built-in pipeline (extract,
// chunk, embed, search, answer) over a small café knowledge base in
// testdata/eval and holds the retrieval hit rate, answer accuracy and refusal
// rate above fixed floors, so changes to chunking or the built-in AI provider
// cannot quietly make answers worse.
package knowledge
