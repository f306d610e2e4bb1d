// Package ai is Neksio's model layer: the one interface through which the agent
// answers customers and the knowledge indexer embeds documents.
//
// A [Provider] offers four things and nothing more:
//
//   - an [Embedder] that turns texts into L2-normalised vectors (batched), so the
//     vector store can use plain cosine or inner-product search;
//   - Chat, a plain chat completion for free-form tasks (drafts, posts);
//   - Answer, the retrieval-augmented step: a question plus the passages the
//     vector store returned become an answer, the passage IDs it cites, and a
//     confidence in [0,1] that the agent compares with its threshold
//     ([DefaultConfidenceThreshold]) to send, draft, or hand off;
//   - Sentiment, a label and a score in [-1,1] for social text.
//
// Two providers ship. builtin.New (package core/ai/builtin) is offline and deterministic (hashed n-gram
// embeddings, extractive answers, a lexicon sentiment model tuned for social
// media): Neksio runs with no configuration and tests never need a network.
// openai.New (package core/ai/openai) talks to any OpenAI-compatible endpoint (OpenAI, Azure, Ollama,
// vLLM, llama.cpp server) through github.com/openai/openai-go/v3.
//
// Failures are classified, because River decides retries from them: an
// [*Error] carries a [Kind] (rate limited with a Retry-After, transient, or
// permanent) and matches [ErrRateLimited], [ErrTransient] or [ErrPermanent]
// with errors.Is.
//
// [WantsHuman] is separate from Sentiment on purpose: the agent hands off when
// a customer asks for a person even if the message is polite.
package ai
