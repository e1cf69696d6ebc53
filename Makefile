# PicoCache for Go.
#   make demo   generate, build and run the demo twice: the second run finds the first run's results
#   make test   the full test suite (what CI runs)
#   make bench  benchmarks against the peers, side by side
GO ?= go

# Packages whose generated code is committed and must not drift (the
# benchmarks' too, in their own module, bench/: see bench/go.mod).
GENERATED := ./examples/... ./internal/keytest/...

.PHONY: demo generate test check-cgo check-format check-generated fuzz bench staticcheck

demo: generate
	@mkdir -p bin
	$(GO) build -o bin/demo ./examples/demo
	@rm -f examples/demo/picocache.db examples/demo/picocache.db-wal examples/demo/picocache.db-shm
	@echo; echo "== run 1: a fresh ./picocache.db, so every result is computed and stored"
	@cd examples/demo && ../../bin/demo
	@echo; echo "== run 2: a new process, the same ./picocache.db: the results of run 1"
	@cd examples/demo && ../../bin/demo

generate:
	$(GO) generate $(GENERATED)
	cd bench && $(GO) generate ./...

# staticcheck, pinned: go run fetches this version through the module proxy
# (once, then from the module cache), without adding it to go.mod, so it
# stays out of users' module graphs.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

test: check-format check-cgo
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -race -count=1 ./...
	@# The benchmarks' module: its tests check the peers' setups.
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./... && $(GO) test -race -count=1 ./...
	@# The key-injectivity property test checks no concurrency; without the
	@# race detector it runs its full 10^6 random tuples.
	$(GO) test -count=1 -run '^TestKeyInjective$$' ./internal/keytest
	$(MAKE) check-generated
	$(MAKE) fuzz

# go test -race needs cgo: a C compiler and the C library's headers.
check-cgo:
	@if [ "$$($(GO) env CGO_ENABLED)" != 1 ]; then \
		echo "make test runs the race detector, which needs cgo and a C compiler:"; \
		echo "  apt-get install gcc libc6-dev   (then CGO_ENABLED=1 if you had set it to 0)"; exit 1; \
	fi

check-format:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './testdata/*' -not -path '*/testdata/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Regenerate the committed generated code and fail on any difference.
check-generated: generate
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
		git diff --exit-code --stat -- examples internal/keytest bench || \
		{ echo "generated code is stale: run 'make generate' and commit"; exit 1; }; \
	fi

# A brief run of every fuzz target beyond its committed seed corpus.
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$target"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || \
				{ echo "$$out"; echo "fuzz $$target failed: commit the input it wrote under testdata/fuzz with the fix"; exit 1; }; \
		done; \
	done

staticcheck:
	$(GO) run $(STATICCHECK) ./...

BENCHTIME ?= 1s
bench:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./runtime/...
