# Kizuna build and test entry points. `make test` is the one test command.
export CGO_ENABLED := 0
# Build and test with the toolchain go.mod names (it carries security
# fixes); the go command fetches it through the module proxy once.
export GOTOOLCHAIN := auto
GO ?= go

.PHONY: test test-go test-node test-web test-interop vet lint build bench

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

build:
	$(GO) build -o bin/kizuna ./cmd/kizuna

vet:
	$(GO) vet ./...

# staticcheck, pinned, fetched through the module proxy.
lint:
	$(GO) run $(STATICCHECK) ./...

# The Go suite and the two Node.js suites are independent: they run side by
# side (the Node.js ones one after the other), each one's output printed
# whole when it ends.
test: vet lint
	@$(MAKE) --no-print-directory --output-sync=target -j2 test-go test-node

test-node:
	@$(MAKE) --no-print-directory test-web
	@$(MAKE) --no-print-directory test-interop

test-go:
	CGO_ENABLED=1 $(GO) test -race -timeout 20m ./...

test-web:
	@if [ -f internal/webmap/test/package.json ]; then cd internal/webmap/test && npm ci --no-audit --no-fund && node --test; fi

# Kizuna driven by third-party TAK client code (@tak-ps/node-tak, node-cot).
test-interop:
	@cd interop/node-tak && npm ci --no-audit --no-fund && node --test

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
