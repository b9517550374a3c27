# The README's two commands: `make preview` (offline preview of a stack, default local) and `make test`.
# Around them: `make diff` (what a change does per stack), `make rollout` (rewrites docs/rollout.md), `make mutation`,
# `make fmt`, `make lock` (re-pins requirements/dev.txt and policy/requirements.txt from pyproject.toml),
# and on the real engines `make engines`, `make venvs`, `make e2e` and `make bench` (docs/testing.md).
# Every target bootstraps .venv from the hashed lock on first use (Python 3.11 or 3.12: Pulumi's mocks
# break on 3.14), with this package installed editable so `ameide-secrets` is on .venv/bin.

VENV   ?= .venv
PY     := $(VENV)/bin/python
STACK  ?= local
FORMAT ?= text
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
BASE   ?= origin/main
# actionlint from the Go module proxy (like the engines), into the ignored .engines/bin; its stamp names the version.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT         := .engines/bin/actionlint
LOCK   := $(VENV)/bin/uv pip compile pyproject.toml requirements/build.in --universal --python-version 3.11 --generate-hashes --no-header --quiet

.PHONY: preview test fmt diff rollout bench mutation lock venvs engines e2e clean

# The lock first (pip and setuptools from it too), then this package, editable, without resolving again.
define install
	$(1)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(2)
	PYTHONWARNINGS=ignore $(1)/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .
endef

$(VENV)/.installed: requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in {(3, 11), (3, 12)} else "Python 3.11 or 3.12 is required (found %s); set PYTHON=..." % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(call install,$(VENV),requirements/dev.txt)
	@touch $@

# The policy pack's own virtualenv: `pulumi preview/up --policy-pack policy` runs policy/venv/bin/python,
# and neither the CLI nor the language host creates it. Its lock is derived from the `policy` extra.
policy/venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv policy/venv
	$(call install,policy/venv,policy/requirements.txt)
	@touch $@

# Both virtualenvs a real `pulumi preview` / `pulumi up` needs.
venvs: $(VENV)/.installed policy/venv/.installed

# No echo of the command: `make preview FORMAT=yaml > f.yaml` must be valid YAML.
preview: $(VENV)/.installed
	@$(VENV)/bin/ameide-secrets preview --stack $(STACK) --format $(FORMAT)

# Lint, format and strict types first (the tests too), then the workflows' auditors: they take seconds
# and point at the line. No zizmor finding of medium or high severity passes (docs/security.md).
test: $(VENV)/.installed .engines/stamps/actionlint-$(ACTIONLINT_VERSION)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/zizmor --offline --min-severity medium --quiet .github/workflows
	$(ACTIONLINT) .github/workflows/*.yml
	$(PY) -m pytest

.engines/stamps/actionlint-$(ACTIONLINT_VERSION):
	GOPROXY=https://proxy.golang.org GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN=$(CURDIR)/.engines/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	@mkdir -p $(@D) && touch $@

# Format and auto-fix what ruff can, then `make test` checks the rest.
fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every stack unless STACK is given on the command line; the base is rendered in a temporary worktree.
# LINEAGE="f.json …": lineage reports (`lineage --format json`) for the blast radius; ALLOW_BREAKING=true
# lets a removed key that a container still reads pass (the PR workflow sets it from a label).
diff: $(VENV)/.installed
	@$(VENV)/bin/ameide-secrets diff --base $(BASE) --format $(FORMAT) $(if $(filter command line,$(origin STACK)),--stack $(STACK)) \
		$(foreach f,$(LINEAGE),--lineage $(f)) $(if $(filter true,$(ALLOW_BREAKING)),--allow-breaking)

# Through a temporary file: a failing run must not truncate the committed table.
rollout: $(VENV)/.installed
	$(VENV)/bin/ameide-secrets rollout --format markdown > docs/rollout.md.tmp || { rm -f docs/rollout.md.tmp; exit 1; }
	mv docs/rollout.md.tmp docs/rollout.md

# Do the unit tests kill what they claim? The listed mutants (lab/mutants.yaml) and a fresh sample, each on a
# temporary copy of the tree with only its mirrored tests; exit 1 under 90 % (docs/testing.md states the scores).
MUTATION_SAMPLE ?= 60
MUTATION_SEED   ?= 26
mutation: $(VENV)/.installed
	$(PY) -m lab.mutation --sample $(MUTATION_SAMPLE) --seed $(MUTATION_SEED)

# Re-pin both locks after a change to pyproject.toml's dependencies (needs the package index).
lock: $(VENV)/.installed
	$(LOCK) --extra dev --output-file requirements/dev.txt
	$(LOCK) --extra policy --output-file policy/requirements.txt

# Offline preview at 10, 100 and 1000 synthetic workloads; results in docs/performance.md.
# PEER=cdk8s (or PEERS="cdk8s helm engine") also times `cdk8s synth` (from npm, into .cache/cdk8s) beside
# the whole YAML-view process, `helm template` of a central chart and the real Pulumi engine (make engines).
bench: $(VENV)/.installed
	$(PY) -m lab.bench $(if $(strip $(PEERS) $(PEER)),--peers $(PEERS) $(PEER))

# The real engines for end-to-end runs, built into .engines/bin from the Go module proxy and PyPI;
# skips what is already built (docs/testing.md, "Building the engines"): the Pulumi CLI, the Kubernetes
# provider, our Python language host and OpenBao's bao; then etcd, kube-apiserver, the controller
# manager, kubectl, Helm and the ESO controller for `python -m lab.testenv` (the real clusters).
engines:
	bash lab/engines/build.sh
	bash lab/engines/build-cluster.sh

# End-to-end on the real engines (docs/testing.md): builds what `make engines` has not built yet,
# creates both virtualenvs, then runs tests/e2e (servers on loopback only, stopped by the tests).
e2e: venvs engines
	$(PY) -m pytest tests/e2e -p no:cacheprovider

clean:
	rm -rf $(VENV) policy/venv rendered .pytest_cache
