# Touchpoint — build, test and measure. `make help` lists the targets.
GO      ?= go
BIN     := bin/touchpoint
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 15s

.PHONY: help build test test-short lint deps fuzz bench bench-cluster bench-ingest bench-propagation bench-decide bench-import clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build the static touchpoint binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/touchpoint

test: ## run every test a clean machine can run, with the race detector
	$(GO) test -race -timeout 25m ./...

test-short: ## quick tests (no linearizability run, no long system tests)
	$(GO) test -short -timeout 10m ./...

deps: ## import-boundary and package-doc checks
	$(GO) test -run 'TestImportBoundaries|TestPackagesHaveDocComments' .

lint: ## gofmt, go vet and staticcheck (installed on first use)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@sc=$$($(GO) env GOPATH)/bin/staticcheck; \
	if [ ! -x $$sc ]; then $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || { echo "staticcheck could not be installed: skipped"; exit 0; }; fi; \
	echo "staticcheck ./..."; $$sc ./...

fuzz: ## run every fuzz target briefly (FUZZTIME=15s each)
	@set -e; for pkg in $$($(GO) list ./...); do \
		for fz in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$fz"; \
			$(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench: ## micro-benchmarks (FSM apply, catalogue parse) and the cluster write benchmark
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

bench-cluster: ## catalogue writes on a three-node loopback cluster (the figures in docs/PERFORMANCE.md)
	$(GO) test -run '^$$' -bench 'BenchmarkCluster' -benchtime 10s -timeout 30m ./controlplane/integration/

bench-ingest: ## contact events end to end for 60 s, flat out and at 25,000/s offered (docs/PERFORMANCE.md)
	TOUCHPOINT_BENCH_DURATION=60s $(GO) test -run '^$$' -bench 'BenchmarkIngest$$' -benchtime 1x -timeout 30m ./cmd/touchpoint/
	TOUCHPOINT_BENCH_RATE=25000 TOUCHPOINT_BENCH_DURATION=60s $(GO) test -run '^$$' -bench 'BenchmarkIngest$$' -benchtime 1x -timeout 30m ./cmd/touchpoint/

bench-propagation: ## a change reaching 1,000 agent sessions (docs/PERFORMANCE.md)
	$(GO) test -run '^$$' -bench Propagation -benchtime 300x -timeout 30m ./controlplane/gateway/

bench-decide: ## decisions: the engine alone, and the agent's whole path over 1,000,000 cached profiles (docs/PERFORMANCE.md)
	$(GO) test -run '^$$' -bench Decide -benchtime 5s -cpu 1 ./agent/decide/
	TOUCHPOINT_BENCH_PROFILES=1000000 $(GO) test -run '^$$' -bench AgentDecide -benchtime 100000x -cpu 1 -timeout 30m ./agent/

.PHONY: bench-churn
bench-churn: ## in-agent churn scoring: 200-tree GBDT over a profile's attributes, alone and inside a decision (target ≤ 10 µs; docs/MODELS.md)
	$(GO) test -run '^$$' -bench 'ChurnScore|ScoreGBDT200|DecideChurnModel' -benchmem -count 3 ./protocol/churnmodel/ ./controlplane/analytics/churn/ ./agent/decide/

bench-import: ## 1,000,000 customers imported into a three-node cluster (docs/PERFORMANCE.md)
	$(GO) test -run '^$$' -bench 'BenchmarkCustomersImport$$' -benchtime 1x -timeout 30m ./cmd/touchpoint/

clean: ## remove build output
	rm -rf bin
