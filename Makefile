# The two commands of the README. Both set up what they need first and are idempotent.
#   make synth   set up only what synthesis needs (crm-ports and its runtime dependencies:
#                no test tools, no prebuilt provider bindings), then synthesize the default
#                labs into cdktf.out/
#   make test    set up everything (Python with the test tools and bindings, npm, Debian
#                tools), then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Debian packages the review tests drive: Graphviz for DOT, Chromium for mermaid-cli (and
# the docs' screenshot), rsync for gitlab-ci-local (the GitLab template's test).
SYSTEM_TOOLS := dot:graphviz chromium:chromium rsync:rsync

.PHONY: setup setup-synth setup-node setup-system synth test lint bench mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[audit,test,bindings]'

# What `make synth` needs: crm-ports with its runtime dependencies (cdktf, constructs and
# jsii's Node runtime among them). Skipped when already installed, so a second run
# starts synthesizing at once.
setup-synth: $(BIN)/python
	@if [ -x $(BIN)/crm-ports ] && $(BIN)/python -c 'import importlib.util as u, sys; \
	  sys.exit(not all(map(u.find_spec, ("crm_ports", "cdktf", "constructs", "jsii"))))'; then \
	  echo "make synth: crm-ports is installed in $(VENV)"; \
	else \
	  echo "make synth: installing crm-ports and its runtime dependencies into $(VENV) (no test tools)"; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -e .; \
	fi

# puppeteer (under mermaid-cli) would download its own browser; it uses Debian's instead.
# tests/ci-tools/ holds the tools the CI-integration tests judge action.yml and ci/ with;
# gitlab-ci-local needs Node 22 too, so it gets the npm `node` package as cdktn-cli does.
# CDK Terrain's CLI needs Node >= 22.19: flavours/cdktn/ installs it with the npm registry's
# `node` package (the Node 22 binary, as an npm package) in a folder of its own, so the
# cdktf-cli of package.json keeps the system's Node.
setup-node:
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@echo "make setup-node: installing cdktn-cli and Node 22 (npm package node@22) into flavours/cdktn/node_modules"
	npm ci --prefix flavours/cdktn --no-audit --no-fund --loglevel=error
	@echo "make setup-node: installing action-validator, gitlab-ci-local and Node 22 into tests/ci-tools/node_modules"
	npm ci --prefix tests/ci-tools --no-audit --no-fund --loglevel=error

setup-system:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "not installed:$$missing (the tests that need them will skip)"; fi

synth: setup-synth
	@echo "make synth: synthesizing the default labs into cdktf.out/"
	$(BIN)/python -O -m crm_ports synth

# The second pass runs the tests marked `flavoured` (constructs, snapshots, end to end) on
# CDK Terrain: one CDK flavour per process, so it cannot share the first pass's workers.
test: setup setup-node setup-system
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=15
	CRM_PORTS_CDK=cdktn $(BIN)/python -m pytest -n 2 -m flavoured

bench: setup
	$(BIN)/python benchmarks/synth_bench.py

lint: setup
	$(BIN)/ruff check crm_ports tests benchmarks
	$(BIN)/ruff format --check crm_ports tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Mutation testing as a measure, never in CI (too slow: hours for every group on two shared
# cores). mutmut ([tool.mutmut] in pyproject.toml) mutates the core modules and judges each
# mutant with the fast tests; benchmarks/mutation_scores.py prints killed/run per module
# (docs/contributing.md#mutation-testing). One group at a time, niced; narrow it with
#   make mutation MUTANTS='crm_ports.verify.spans.* crm_ports.audit.compare.*'
MUTANTS ?= crm_ports.resolver.* crm_ports.plans.* crm_ports.verify.* crm_ports.audit.* \
  crm_ports.policy.*
mutation: setup
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	set -f; for group in $(MUTANTS); do \
	  nice -n 10 $(BIN)/mutmut run --max-children 2 "$$group" || exit 1; done
	set -f; $(BIN)/python benchmarks/mutation_scores.py $(MUTANTS)

# Terraform state lives beside cdktf.out (terraform.<stack>.tfstate); state that an older
# layout left inside it would go with it, so clean refuses and says where to move it.
clean:
	@found=$$(find cdktf.out/stacks -path '*/.terraform' -prune -o -type f \
	  \( -name '*.tfstate' -o -name '*.tfstate.backup' -o -name '*.tfstate.*.backup' \) \
	  -print 2>/dev/null); \
	if [ -n "$$found" ]; then \
	  echo "make clean: refusing to remove cdktf.out, it holds Terraform state:" $$found >&2; \
	  echo "move each to terraform.<stack>.tfstate in the project root first" >&2; exit 2; fi
	rm -rf cdktf.out .pytest_cache .mypy_cache .ruff_cache
