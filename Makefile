# clem: build, test, verify and package all seven binaries.
# `make help` lists the targets.

BINARIES := clem pipelock agent-vault sidecar runner watchdog coord
MODULES  := shared $(BINARIES) tests
VERSION  ?= $(shell v=$$(git describe --tags --match 'v*' --dirty 2>/dev/null) && echo $${v\#v} || echo 0.1.0-dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE     ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
ARCHES   ?= amd64 arm64
PREFIX   ?= /usr/local
DISTDIR  ?= dist
GO       ?= go
PKG      := github.com/clemhq/clem/shared/version
LDFLAGS  := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)
export CGO_ENABLED := 0

.PHONY: help build deps test test-containment test-system test-faults test-github test-repeat demo verify dist install uninstall quickstart clean bench-pipelock bench-vault

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build all seven binaries into bin/
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./,$(BINARIES))

test: ## run every module's tests (root needed for the privileged ones)
	$(GO) test -count=1 -timeout 45m -tags root $(addprefix ./,$(addsuffix /...,$(MODULES)))

test-containment: ## the attack matrix (root): kernel, files, daemons, and inside the units of a booted fleet; ends with "containment: N/N attempts held"
	@report=$$(mktemp /tmp/clem-containment.XXXXXX); \
	(cd tests && CLEM_CONTAINMENT_REPORT=$$report $(GO) test -count=1 -timeout 45m -run '^(TestContainment|TestSystemFleet)$$' . >$$report.log 2>&1); rc=$$?; \
	[ $$rc -eq 0 ] || cat $$report.log; \
	if [ -s $$report ]; then cat $$report; else echo "containment: 0/0 attempts held (the matrix did not run)"; fi; \
	rm -f $$report $$report.log; exit $$rc

test-system: ## the fleet under real systemd with the real Claude Code CLI (root); ends with "system: N/N scenarios passed"
	@report=$$(mktemp /tmp/clem-system.XXXXXX); \
	(cd tests && CLEM_SYSTEM_REPORT=$$report $(GO) test -count=1 -timeout 45m -run '^TestSystemFleet$$' . >$$report.log 2>&1); rc=$$?; \
	[ $$rc -eq 0 ] || cat $$report.log; \
	if [ -s $$report ]; then cat $$report; else echo "system: 0/8 scenarios passed (the fleet did not start)"; fi; \
	rm -f $$report $$report.log; exit $$rc

test-faults: ## the fault matrix (root): coord's remote backend down a minute, then the fleet under real systemd: kills, SIGSTOPs, full disks, model API faults, a reboot; ends with "faults: N/N survived" and "lost: N"
	@report=$$(mktemp /tmp/clem-faults.XXXXXX); \
	(cd coord && CLEM_FAULTS_REPORT=$$report $(GO) test -count=1 -run '^TestRemoteBackendDown$$' ./internal/daemon/ >$$report.log 2>&1; rc1=$$?; \
	 cd ../tests && CLEM_FAULTS_REPORT=$$report $(GO) test -count=1 -timeout 30m -run '^TestSystemFleet$$/^faults$$' -v . >>$$report.log 2>&1; rc2=$$?; [ $$rc1 -eq 0 ] && [ $$rc2 -eq 0 ]); rc=$$?; \
	[ $$rc -eq 0 ] || cat $$report.log; \
	if [ -s $$report ]; then cat $$report; else echo "faults: 0/0 survived (the fleet did not start)"; echo "lost: unknown"; fi; \
	rm -f $$report $$report.log; exit $$rc

test-github: ## GitHub (root): the fleet's lead ships a pull request with the real git, gh and Claude Code through pipelock and agent-vault against a fake GitHub; ends with "github: N/N scenarios passed"
	@report=$$(mktemp /tmp/clem-github.XXXXXX); \
	(cd tests && CLEM_GITHUB_REPORT=$$report $(GO) test -count=1 -timeout 30m -run '^TestSystemFleet$$/^github$$' . >$$report.log 2>&1); rc=$$?; \
	[ $$rc -eq 0 ] || cat $$report.log; \
	if [ -s $$report ]; then cat $$report; else echo "github: 0/0 scenarios passed (the fleet did not start)"; fi; \
	rm -f $$report $$report.log; exit $$rc

test-repeat: ## the flake check (root): make test RUNS times (default 5) in a row from a fresh clone of HEAD with stress-ng --cpu 2 busy; ends with "repeat: P/N passed"
	./tests/repeat.sh $(or $(RUNS),5)

demo: ## (root) a throwaway systemd runs a two-agent fleet against a fake model: a task done, exfiltration refused; then cleans up
	./tests/demo.sh

verify: ## go.work lists every module; go vet, gofmt and go mod tidy are clean; every binary's deps.txt is current
	@for m in $(MODULES); do grep -q "^\s*\./$$m$$" go.work || { echo "go.work does not use ./$$m"; exit 1; }; done
	$(GO) vet -tags root $(addprefix ./,$(addsuffix /...,$(MODULES)))
	@out=$$(gofmt -l $(MODULES)); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff >/dev/null) || { echo "$$m: go.mod/go.sum are not tidy: cd $$m && go mod tidy"; exit 1; }; done
	@for m in $(BINARIES); do (cd $$m && GOWORK=off $(GO) build -o /dev/null .) || { echo "$$m: GOWORK=off build fails"; exit 1; }; done
	@./tests/deps.sh check
	@echo verify: ok

deps: ## rewrite each binary's dependency list (<binary>/deps.txt), which make verify checks: a new dependency shows in review
	./tests/deps.sh

dist: ## build clem_<version>_linux_<arch>.tar.gz for each of ARCHES, with SHA256SUMS
	@rm -rf $(DISTDIR) && mkdir -p $(DISTDIR)
	@set -e; for arch in $(ARCHES); do \
	  name=clem_$(VERSION)_linux_$$arch; stage=$(DISTDIR)/$$name; \
	  mkdir -p $$stage/bin; \
	  GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$stage/bin/ $(addprefix ./,$(BINARIES)); \
	  cp -r systemd LICENSE README.md $$stage/; cp clem/dist/install.sh $$stage/install.sh; chmod 755 $$stage/install.sh; \
	  tar -C $(DISTDIR) --owner=0 --group=0 --sort=name -czf $(DISTDIR)/$$name.tar.gz $$name; \
	  rm -rf $$stage; echo "built $(DISTDIR)/$$name.tar.gz"; \
	done
	@cd $(DISTDIR) && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

install: build ## install binaries and unit templates under PREFIX (default /usr/local)
	./clem/dist/install.sh --prefix '$(PREFIX)' --from .

uninstall: ## remove what install put under PREFIX
	./clem/dist/install.sh --prefix '$(PREFIX)' --uninstall

quickstart: ## build, install into PREFIX, then clem init + clem check in a temporary team directory
	$(MAKE) install PREFIX='$(PREFIX)'
	@dir=$$(mktemp -d /tmp/clem-quickstart.XXXXXX)/myteam; \
	echo "== clem init --dir $$dir"; '$(PREFIX)/bin/clem' init --dir $$dir && \
	echo "== clem check -f $$dir/clem.yaml"; '$(PREFIX)/bin/clem' check -f $$dir/clem.yaml; rc=$$?; \
	echo "(team left in $$dir to explore)"; exit $$rc

bench-pipelock: build ## measure bin/pipelock against direct connections (BENCH_ARGS=-duration=3s)
	$(GO) run ./tests/bench -pipelock bin/pipelock $(BENCH_ARGS)

bench-vault: build ## measure pipelock + agent-vault against direct HTTPS (BENCH_ARGS=-duration=3s)
	$(GO) run ./tests/benchvault -pipelock bin/pipelock -agent-vault bin/agent-vault $(BENCH_ARGS)

clean: ## remove bin/ and dist/
	rm -rf bin $(DISTDIR)
