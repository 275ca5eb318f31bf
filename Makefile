# Kizuna build and test entry points. `make test` is the one test command.
export CGO_ENABLED := 0
# Build and test with the toolchain go.mod names (it carries security
# fixes); the go command fetches it through the module proxy once.
export GOTOOLCHAIN := auto
GO ?= go
# -trimpath: compiled packages do not depend on where the checkout is, so a
# fresh clone reuses what the build cache holds from another checkout of the
# same sources (CI clones afresh each run) instead of compiling everything
# again with the race detector. It applies to staticcheck's loading too.
export GOFLAGS += -trimpath

.PHONY: test test-go test-node test-web test-interop vet lint build bench bench-web npm-web npm-interop

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# The browser and interop suites start this binary (their KIZUNA_BIN): it is
# built once, not once per test file.
KIZUNA_BIN := $(CURDIR)/bin/kizuna
# Browser test files run this many at a time (Node.js's default on two cores
# is one): a file waits on its kizuna serve and Chromium much of the time,
# but Chromium's rendering is real CPU work beside the Go race suite, so
# more than two on two cores buys little and risks the timing assertions.
WEB_TEST_CONCURRENCY ?= 2

build:
	$(GO) build -o bin/kizuna ./cmd/kizuna

# vet and staticcheck only use the CPU (no test deadlines): at a lower
# priority beside the suites, they take what the suites leave idle. They
# start after build so that they reuse its compiled packages instead of
# compiling the same ones at the same time.
vet: build
	nice -n 10 $(GO) vet ./...

# staticcheck, pinned, fetched through the module proxy.
lint: build
	nice -n 10 $(GO) run $(STATICCHECK) ./...

# The checks and suites are independent of one another: they all run side by
# side, each one's output printed whole when it ends. The Node.js suites
# wait only for the server binary and their npm packages.
test:
	@$(MAKE) --no-print-directory --output-sync=target -j8 vet lint test-go test-web test-interop

test-node: test-web test-interop

# -vet=off: the go test's own subset of vet would repeat what vet does.
# -count=1: every test runs; with -trimpath the test binaries of two
# checkouts are identical, and a result cached from one must not stand in
# for a run of the other.
# -p 4 -parallel 6: most test time is waiting (for a lease to lapse, a
# deadline to pass, a peer to reconnect), not CPU: with Go's defaults on two
# cores (two packages, two parallel tests at a time) the suite kept the
# machine idle half the time, and the node package's 90 s of tests ran
# almost one at a time (154 s alone; with these, 88 s).
test-go:
	CGO_ENABLED=1 $(GO) test -race -count=1 -vet=off -p 4 -parallel 6 -timeout 20m ./...

npm-web:
	@if [ -f internal/webmap/test/package.json ]; then cd internal/webmap/test && npm ci --no-audit --no-fund; fi

npm-interop:
	@cd interop/node-tak && npm ci --no-audit --no-fund

# The test files only: with none named, node --test would also run lib.mjs
# (any .mjs in a directory named test), a process for no test. (Starting
# the longest files first was tried: it ran the two-page orders-decide
# test beside the two heaviest files, and it timed out.)
test-web: build npm-web
	@if [ -f internal/webmap/test/package.json ]; then cd internal/webmap/test && KIZUNA_BIN=$(KIZUNA_BIN) node --test --test-concurrency=$(WEB_TEST_CONCURRENCY) *.test.mjs; fi

# Kizuna driven by third-party TAK client code (@tak-ps/node-tak, node-cot).
test-interop: build npm-interop
	@cd interop/node-tak && KIZUNA_BIN=$(KIZUNA_BIN) node --test

# The browser latency goals (100 symbols on the map within 1 s, a move within
# 1 s) checked strictly: run it on a quiet machine, alone.
bench-web: build npm-web
	cd internal/webmap/test && KIZUNA_BIN=$(KIZUNA_BIN) KIZUNA_WEB_TIMING=strict node --test map.test.mjs

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
