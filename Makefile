# Neksio — one command per job. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO ?= go
GENERATED := ent schema/ent.graphql graph/generated graph/model plugins/sdk/internal/genproto
TEST_TIMEOUT ?= 15m

.PHONY: all build run test test-go test-sdk generate check-generated tools bench bench-smoke lint clean

all: build

build:
	$(GO) build -o bin/neksio ./cmd/neksio

run:
	$(GO) run ./cmd/neksio serve

## tools: what the tests need beyond Go (Milvus Lite from npm, into .tools/).
tools:
	./scripts/install-milvus-lite.sh

## test: generated code is fresh, then every package of both modules, on
## SQLite and PostgreSQL, the vector tests on Milvus Lite too.
test: tools check-generated test-go test-sdk fuzz-smoke

## bin/staticcheck: the version pinned as a tool in go.mod, as a binary so
## it also checks the SDK's own module. (Generated ent code is not checked.)
bin/staticcheck: go.mod
	$(GO) build -o bin/staticcheck honnef.co/go/tools/cmd/staticcheck

test-go: bin/staticcheck
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	bin/staticcheck $$($(GO) list ./... | grep -vE '/neksio/ent($$|/)') ./ent/schema/...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-sdk: bin/staticcheck
	cd plugins/sdk && $(GO) vet ./... && ../../bin/staticcheck ./... && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## fuzz-smoke: 30,000 coverage-guided inputs for each webhook
## parser, and for the GraphQL operation limits, beyond the seed corpus
## that `go test` already runs (a count,
## not a duration: a -fuzztime duration sometimes ends in a spurious
## "context deadline exceeded" from the fuzzing engine).
FUZZTIME ?= 30000x
fuzz-smoke:
	$(GO) test -run '^$$' -fuzz '^FuzzHandleWebhook$$' -fuzztime $(FUZZTIME) ./plugins/whatsapp
	$(GO) test -run '^$$' -fuzz '^FuzzHandleWebhook$$' -fuzztime $(FUZZTIME) ./plugins/meta
	$(GO) test -run '^$$' -fuzz '^FuzzHandleWebhook$$' -fuzztime $(FUZZTIME) ./plugins/google
	$(GO) test -run '^$$' -fuzz '^FuzzHandleWebhook$$' -fuzztime $(FUZZTIME) ./plugins/tiktok
	$(GO) test -run '^$$' -fuzz '^FuzzOperationLimits$$' -fuzztime $(FUZZTIME) ./graph/limits

generate:
	$(GO) generate ./...

## check-generated: regenerating must not change anything. Compares the
## working tree of the generated paths before and after, so it works with
## uncommitted edits too.
check-generated:
	@before="$$(git diff --no-ext-diff -- $(GENERATED) | sha256sum; git ls-files --others --exclude-standard -- $(GENERATED) | sha256sum)"; \
	$(GO) generate ./... || exit 1; \
	after="$$(git diff --no-ext-diff -- $(GENERATED) | sha256sum; git ls-files --others --exclude-standard -- $(GENERATED) | sha256sum)"; \
	if [ "$$before" != "$$after" ]; then \
		echo "generated code is stale: run 'go generate ./...' and commit the result"; \
		git status --short -- $(GENERATED); exit 1; \
	fi; echo "generated code is up to date"

## bench: every benchmark against its same-run baseline at BENCH_SCALE
## (default 1: the full run, ~10 minutes on 2 cores); writes
## bench/results/latest.json and the table in docs/benchmarks.md.
## BENCH_ONLY=reads,retrieval runs a subset. Milvus Lite comes from `make tools`.
BENCH_SCALE ?= 1
bench: tools
	BENCH_SCALE=$(BENCH_SCALE) $(GO) run ./bench

## bench-smoke: the tiny run `make test` also does (bench TestSmoke).
bench-smoke:
	$(GO) test -count=1 -run 'TestSmoke' -v ./bench

clean:
	rm -rf bin data
