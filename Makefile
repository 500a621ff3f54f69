# Diego's build. `make up` starts a cluster on this machine; `make test` runs every
# suite (as root: the suites run real containers). Both install what the machine
# lacks first (scripts/setup.sh, idempotent).

GO        ?= go
PKGS      ?= ./...
BENCH_OUT ?= $(CURDIR)/.bench/figures.jsonl
# The build's version, answered by GET /v1/version as diego_release. Without
# it (a plain `go build`) the binary reports the VCS revision Go stamped in.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS   ?= -X github.com/diego-runtime/diego/internal/version.release=$(VERSION)
# Suites run real etcd, NATS and runc; two packages at a time fits 2 cores.
TEST_FLAGS ?= -count=1 -p 2 -timeout 25m

.PHONY: all setup build test vet bench up e2e fuzz clean release vm-test

all: build

setup:
	@scripts/setup.sh

build:
	@mkdir -p bin
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...
	CGO_ENABLED=0 $(GO) build -o bin/httpapp ./testapps/httpapp
	CGO_ENABLED=0 $(GO) build -o bin/attacker ./testapps/attacker

vet:
	$(GO) vet $(PKGS)

test: setup
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) test $(TEST_FLAGS) $(PKGS)
	$(GO) test -tags e2e $(E2E_FLAGS) ./e2e/acceptance
	$(GO) test -tags e2e $(E2E_FLAGS) -v ./e2e/attack
	@$(MAKE) --no-print-directory vm-test

# The acceptance specs (e2e/acceptance, build tag e2e: a whole cluster, about 2
# minutes here) and the hostile-tenant suite (e2e/attack, verbose: it prints one
# line per attack) also run in `make test`, alone, after the suites.
E2E_FLAGS ?= -count=1 -p 1 -timeout 30m

# Garden's and the cell's suites again, inside a cgroup-v2-only QEMU guest
# (Debian's 6.1 kernel, cgroup_no_v1=all; scripts/vm/test.sh): the host runs
# v1, and cells must run on both. Installs QEMU and fetches the kernel first
# (scripts/setup.sh vm). It fails, never skips, when the guest cannot boot.
# VM_SUITES="PKG[:FOCUS] ..." picks other suites (default: garden/linux,
# garden, rep; about 12 minutes).
vm-test:
	@scripts/setup.sh vm
	GO=$(GO) VM_SUITES="$(VM_SUITES)" scripts/vm/test.sh

# Each benchmark records its figures through internal/benchreport; the report
# collects them into docs/benchmarks.md beside their targets.
bench: setup
	@mkdir -p $(dir $(BENCH_OUT)) && rm -f $(BENCH_OUT)
	DIEGO_BENCH_OUT=$(BENCH_OUT) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m -p 1 $(PKGS)
	$(GO) run ./cmd/benchreport -in $(BENCH_OUT) -out docs/benchmarks.md

# Longer fuzzing than the seed corpus that `make test` runs.
fuzz:
	@for f in $$($(GO) test -list 'Fuzz.*' ./models | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s ./models || exit 1; done

# The acceptance specs (e2e/acceptance, build tag e2e), the CLI specs and the
# 300-instance demo on a default cluster (e2e/demo), each against a whole
# cluster of its own; one package at a time. Then the fault-injection specs
# (e2e/faults: NATS and etcd outages, held heartbeats, bad and late cells,
# compacted history; about 10 minutes, a fresh cluster per spec), which
# `make test` leaves out for their length.
e2e: build
	$(GO) test -tags e2e -count=1 -p 1 -timeout 60m ./e2e/acceptance ./e2e/cli ./e2e/demo
	$(GO) test -tags e2e -count=1 -timeout 40m -v ./e2e/faults
	$(GO) test -tags e2e -count=1 -timeout 30m -v ./e2e/attack
	$(GO) test -tags e2e -count=1 -timeout 25m -v ./e2e/multimachine

# The release: diego-$(VERSION).tgz holds every binary (built static), one job
# per daemon (its spec, generated from the daemon's Config and its fields' doc
# comments; its systemd unit and lifecycle scripts) and release.json (sha256 of
# every file). See docs/operations.md, "Release".
RELEASE_BINS = auctioneer bbs converger diego garden garden-init receptor rep route-emitter router
RELEASE_STAGE ?= .release

release:
	@rm -rf $(RELEASE_STAGE) && mkdir -p $(RELEASE_STAGE)/bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(RELEASE_STAGE)/bin/ $(addprefix ./cmd/,$(RELEASE_BINS))
	$(RELEASE_STAGE)/bin/diego release --source . --bin $(RELEASE_STAGE)/bin --version $(VERSION) --out diego-$(VERSION).tgz

up: setup build
	bin/diego up

clean:
	rm -rf bin .bench .vm $(RELEASE_STAGE) diego-*.tgz
