# Accord: build, test, generate, verify, certificates and the demo.
# Tools are installed with `go install` at the pinned versions below into ./bin.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

BUF_VERSION                ?= v1.75.0
PROTOC_GEN_GO_VERSION      ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.5.1
GRPC_GATEWAY_VERSION       ?= v2.34.0
GOLANGCI_LINT_VERSION      ?= v2.15.0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X github.com/accordfed/accord/cmd/internal/buildinfo.version=$(VERSION)
TEST_TIMEOUT ?= 10m

.PHONY: all build test screenshots test-short fuzz proto tools verify lint certs demo demo-clean image compose-certs compose-up compose-down test-compose clean

all: build

## build: accordd and accordctl into ./bin (static, no cgo)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/accordd ./cmd/accordd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/accordctl ./cmd/accordctl

## test: every test, with the race detector
test:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## screenshots: the console's pages in headless Chromium, into docs/console/
## (the browser tests, which write them when ACCORD_SCREENSHOTS is set)
screenshots:
	mkdir -p docs/console
	ACCORD_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run 'TestBrowser' ./node/console/

## test-short: the quick tests, without the race detector
test-short:
	$(GO) test -short -count=1 ./...

## fuzz: every fuzz target for FUZZTIME each, one after another (go test
## -fuzz takes one target of one package at a time); the seed corpora are
## in each package's testdata/fuzz/ and run with `make test` too. A long
## session: make fuzz FUZZTIME=30m, or one target (docs/fuzzing.md).
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./node/caseformat:FuzzParse \
	./node/caseformat:FuzzParseKeepsNamesOut \
	./federation/records:FuzzVerify \
	./federation/records:FuzzVerifyMutated \
	./federation/exchange:FuzzDecodeCursor \
	./federation/exchange:FuzzResumeCursor \
	./node/pagetoken:FuzzDecode \
	./node/pagetoken:FuzzBinding \
	./federation/persontoken:FuzzUnmarshal \
	./federation/persontoken:FuzzEvaluate \
	./federation/voprf:FuzzDecode \
	./federation/voprf:FuzzFinalize
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -run XXX -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/protoc-gen-grpc-gateway:
	GOBIN=$(BIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
$(BIN)/protoc-gen-openapiv2:
	GOBIN=$(BIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
$(BIN)/golangci-lint:
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

## tools: the pinned code generators and linters
GEN_TOOLS := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2
tools: $(GEN_TOOLS) $(BIN)/golangci-lint

## proto: regenerate the Go code of proto/ (committed): the messages and
## gRPC stubs in proto/accord/v1, the local API's JSON gateway and its
## OpenAPI document in proto/gateway/accord/v1
proto: $(GEN_TOOLS)
	$(BIN)/buf lint
	$(BIN)/buf generate

## verify: buf lint, buf breaking against the last release's API
## (API_BASELINE, proto/releases/README.md), generated code up to date,
## gofmt, go.mod tidy (go vet runs in make lint, as golangci-lint's govet)
API_BASELINE ?= proto/releases/accord-v1-2026-12-07.binpb
## Files under proto/ that are not generated: the sources, the API
## baselines, the gateway's HTTP rules and its go:embed of the OpenAPI
## document.
PROTO_SOURCES := --exclude='*.proto' --exclude=releases --exclude=gateway.yaml --exclude=openapi.go
verify: $(GEN_TOOLS)
	$(BIN)/buf lint
	$(BIN)/buf breaking --against $(API_BASELINE)
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  $(BIN)/buf generate -o $$tmp && \
	  if ! diff -r -q $(PROTO_SOURCES) $$tmp/proto proto; then \
	    echo "verify: generated code in proto/ differs from a fresh generation; run 'make proto' and commit" >&2; \
	    diff -r $(PROTO_SOURCES) $$tmp/proto proto | head -40 >&2; exit 1; \
	  fi
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	  if [ -n "$$out" ]; then echo "verify: not gofmt-formatted:" $$out >&2; exit 1; fi
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cp go.mod go.sum $$tmp/ && $(GO) mod tidy && \
	  if ! cmp -s go.mod $$tmp/go.mod || ! cmp -s go.sum $$tmp/go.sum; then \
	    echo "verify: go.mod/go.sum were not tidy; 'go mod tidy' changed them (review and commit)" >&2; exit 1; fi
	@echo "verify: OK"

## lint: golangci-lint (configuration in .golangci.yml)
lint: $(BIN)/golangci-lint
	$(BIN)/golangci-lint run ./...

## certs: a complete local test federation (UA, PL, DE, LT, NL) in certs/out
certs: build
	$(BIN)/accordctl certs dev-federation --federation accord.test --members UA,PL,DE,LT,NL --out certs/out

## demo: three members on loopback that authenticate each other (see README)
demo: build
	@bash scripts/demo.sh

## demo-clean: remove everything the demo made
demo-clean:
	@bash scripts/demo.sh stop 2>/dev/null || true
	rm -rf demo

## image: the node image FROM scratch with the static binaries (no pull);
## the build context is just the Dockerfile and the two binaries
image: build
	tar -c Dockerfile bin/accordd bin/accordctl | docker build -t accord-node:dev -

## compose-certs: the compose federation's test certificates in deploy/compose/out (git-ignored)
compose-certs: build
	@bash deploy/compose/certs.sh

## compose-up / compose-down: the five-member federation of docker-compose.yml
## (docs/operations.md); compose-up waits until every container is healthy
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_WAIT ?= 120
compose-up: image compose-certs
	$(COMPOSE) up -d
	@printf 'waiting until every container is healthy (accordd health) '; \
	  for i in $$(seq 1 $(COMPOSE_WAIT)); do \
	    ids=$$($(COMPOSE) ps -q); \
	    st=$$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $$ids 2>/dev/null); \
	    if [ -n "$$ids" ] && ! grep -qv '^healthy$$' <<<"$$st"; then echo " all $$(wc -w <<<"$$ids") healthy"; $(COMPOSE) ps; exit 0; fi; \
	    printf '.'; sleep 1; \
	  done; \
	  echo; $(COMPOSE) ps; echo "compose-up: not every container became healthy within $(COMPOSE_WAIT)s; see $(COMPOSE) logs" >&2; exit 1
compose-down:
	$(COMPOSE) down -v

## test-compose: the compose end-to-end test (test/compose/e2e.sh): leader stopped, re-elected, caught up
test-compose: image compose-certs
	bash test/compose/e2e.sh

clean:
	rm -rf bin demo certs/out
