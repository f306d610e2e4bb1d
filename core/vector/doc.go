// Package vector stores the embedding vectors of knowledge chunks and finds
// the ones closest to a query, always inside one workspace.
//
// Two stores implement [Store]:
//
//   - [Embedded], the default: vectors live in the application database
//     (SQLite or PostgreSQL) and are searched exactly, in memory, per
//     workspace. Nothing else to run; exact results; fine up to a few hundred
//     thousand vectors per workspace.
//   - [Milvus], for production scale: one Milvus collection per [Space],
//     workspace scoping by a filtered workspace_id field (optionally a
//     partition key), consistency Strong by default so a document is
//     searchable as soon as it is indexed.
//
// A [Space] is one embedding model at one dimension; vectors of different
// spaces are never compared. Scores are cosine similarities in both stores.
//
// Package milvuslite runs the Milvus Lite binary for tests and local use.
// docs/vector.md has the operating notes.
package vector
