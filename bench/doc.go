// Command bench measures Neksio against baselines taken in the same run,
// because these machines are noisy: only ratios travel between machines.
//
//	make bench                       # BENCH_SCALE=1: the full run, minutes on 2 cores
//	BENCH_SCALE=0.1 make bench       # a tenth of every size and duration
//	BENCH_ONLY=reads,retrieval make bench
//
// It builds the neksio binary once and runs `neksio serve` as a subprocess
// on PostgreSQL (the production path, with the real connector plugins the
// binary launches as its own children), with the WhatsApp emulator served
// from this process. Running the server as a subprocess keeps the load
// generator's CPU and memory out of the server's numbers (memory per
// WebSocket connection is read from the server's RSS), and needs nothing
// from package main.
//
// Benchmarks and their baselines:
//
//   - ingest: signed WhatsApp webhooks POSTed by N concurrent senders, against
//     the same rows (contact upsert, conversation upsert, message insert, one
//     transaction per delivery) written straight through pgx. Every database
//     is analyzed before each round (PostgreSQL may run without autovacuum),
//     and the CPU each process spent per delivery is reported (cpu.go).
//   - reads: the inbox query and a thread's messages over GraphQL on a seeded
//     database, against the equivalent hand-written SQL through pgx; the SQL
//     statements per GraphQL request are counted by a PostgreSQL wire-protocol
//     proxy in front of a second server process (see pgproxy.go).
//   - subscriptions: WebSocket subscribers (graphql-transport-ws) on one
//     process, webhook commit to delivery and memory per connection, against a
//     bare WebSocket fan-out server speaking the same protocol.
//   - agent: webhook in to answer delivered at the emulator with the built-in
//     AI provider in AUTO mode, against the same webhook answered at once by a
//     human reply (sendReply) through the same delivery path.
//   - retrieval: the embedded vector store and Milvus Lite against exact
//     brute-force search: latency, and recall@5.
//   - plugin: a connector Send through go-plugin against the same call
//     in-process.
//
// Every figure is written to bench/results/latest.json and, as a table with
// the machine's description, into docs/benchmarks.md (between the
// bench:begin and bench:end markers). A smoke run at a tiny scale is
// bench_test.go's TestSmoke, part of `make test`.
package main
