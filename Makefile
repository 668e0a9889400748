# scim-functions: the two commands a fresh clone needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help install lock browser run test lint bench bench-abuse bench-compare bench-concurrency capacity cycle-memory cycle-azurite soak check-infra clean

help:
	@echo "make run    - start Azurite and the SCIM endpoint on 127.0.0.1:\$${PORT:-7071}; prints Tenant URL and token"
	@echo "make test   - install what is needed, start Azurite in memory, run unit, integration and e2e tests"
	@echo "make lint   - ruff, mypy --strict on scim/, and the import contracts (lint-imports: design.md §1's layers)"
	@echo "make lock   - requirements.in and pyproject's dev extra -> requirements.txt, requirements-dev.txt (hashes)"
	@echo "make bench  - storage round trips and latency ratios per SCIM operation; access-token cost in us (SCENARIO=name: one of bench/)"
	@echo "make capacity - tenants one deployment serves: paper model and token-bucket simulation (seconds, stdlib)"
	@echo "make check-infra - parse every Bicep file (pycep-parser), run our Flex/role/Key Vault rules and checkov, offline"
	@echo "make bench-abuse - worst-case CPU seconds and peak memory of abusive requests (issue #15; minutes)"
	@echo "make bench-compare - the same Entra load against our host and scim2-server, alternating: ops/s, p50/p99, CPU/op, cold start"
	@echo "make bench-concurrency - sync threads vs async aio clients on one PATCH's storage pattern (issue #11; minutes)"
	@echo "make cycle-memory - a 100,000-user tenant's initial cycle on the in-memory store, invariants checked (issue 24)"
	@echo "make cycle-azurite - a 10,000-user tenant's initial cycle on Azurite, invariants checked (issue 24)"
	@echo "make soak   - Entra cycle of SOAK_USERS (10000) users, 8 clients, random storage faults; invariants at the end"

# The locks hold every package with its hashes (pip's hash-checking mode); our own package goes in apart,
# without dependencies, since hash-checking mode refuses an editable install.
$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# `make lock` (README: Dependencies) compiles requirements.in into requirements.txt, and that plus pyproject's dev
# extra into requirements-dev.txt, for the Functions runtime: Linux x86_64, CPython 3.11. Existing pins are kept
# unless LOCK_ARGS says otherwise (--upgrade, or --upgrade-package NAME).
UV_VERSION := 0.13.9
LOCK_TOOL := .venv-lock/.installed-$(UV_VERSION)
UV_COMPILE := .venv-lock/bin/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock" \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 $(LOCK_ARGS)

$(LOCK_TOOL):
	@test -x .venv-lock/bin/python || $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

lock: $(LOCK_TOOL)
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements.in pyproject.toml --extra dev -c requirements.txt -o requirements-dev.txt

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(PY_STAMP) $(NODE_STAMP)

# Debian's chromium for the operator-page tests (tests/browser), driven by Playwright; never `playwright
# install`. Quick when it is there; without root or apt-get the browser tests skip and say why.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium with apt-get (once, for the operator-page browser tests in tests/browser)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "chromium could not be installed: the browser tests will skip"; \
	  else echo "chromium is not installed (needs root and apt-get): the browser tests will skip"; fi; }

run: install
	$(PY) -m devhost.run

test: install browser
	$(PY) -m pytest

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict scim
	# every [tool.importlinter] contract of pyproject.toml (design.md §1's layers), none held back, no exceptions
	$(VENV)/bin/lint-imports --no-cache --no-logo

# Infra checkers live in venvs of their own: checkov pins an older pycep-parser than the one we parse with.
INFRA_CHECKOV := .venv-checkov/.installed
INFRA_PYCEP := .venv-pycep/.installed

$(INFRA_CHECKOV):
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov==3.3.30
	@touch $@

$(INFRA_PYCEP):
	@test -x .venv-pycep/bin/python || $(PYTHON) -m venv .venv-pycep
	.venv-pycep/bin/python -m pip install --quiet --disable-pip-version-check pycep-parser==0.7.1
	@touch $@

check-infra: $(INFRA_CHECKOV) $(INFRA_PYCEP)
	$(PYTHON) -m infra.check_infra .venv-pycep/bin/python .venv-checkov/bin/checkov

# bench/README.md: one harness, named scenarios (`python -m bench` lists them). `make bench` runs the default set;
# SCENARIO=name runs one (ARGS: its options), e.g. make bench SCENARIO=groups ARGS="--sizes 10,1000".
SCENARIO ?= default
bench: install
	$(PY) -m bench $(SCENARIO) $(ARGS)

# Not part of `make test`: the capacity model of docs/performance.md (its inputs come from bench.entra_trips).
capacity: $(PY_STAMP)
	$(PY) -m bench capacity

# Not part of `make test`: each case may run up to CAP seconds (default 60) before it is killed.
bench-abuse: install
	$(PY) -m bench abuse --cap $${CAP:-60}

# scim2-server (the reference in `make bench-compare`) lives in a venv of its own: it pins its own scim2-models.
SCIM2_SERVER := .venv-scim2-server/.installed

$(SCIM2_SERVER):
	@test -x .venv-scim2-server/bin/python || $(PYTHON) -m venv .venv-scim2-server
	.venv-scim2-server/bin/python -m pip install --quiet --disable-pip-version-check scim2-server==0.8.3
	@touch $@

# Not part of `make test`: several minutes; COMPARE_ARGS passes options (e.g. --quick, --users 200 --rounds 3).
bench-compare: install $(SCIM2_SERVER)
	$(PY) -m bench compare --scim2-python .venv-scim2-server/bin/python $${COMPARE_ARGS:-}

# Not part of `make test`: sync handlers on threads vs async handlers on aio clients, through a latency proxy
# (docs/performance.md, "Concurrency: sync threads or async"); about 6 minutes. Pass options in ARGS.
bench-concurrency: install
	$(PY) -m bench concurrency $(ARGS)

# Not part of `make test` (too long for CI): an initial cycle of users, 500 groups of up to 20,000 members and their
# 100-member PATCHes, then the invariant checker (bench/cycle.py). CYCLE_ARGS passes options (e.g. --out FILE).
cycle-memory: $(PY_STAMP)
	$(PY) -m bench cycle --store memory --users $${CYCLE_USERS:-100000} $${CYCLE_ARGS:-}

cycle-azurite: install
	$(PY) -m bench cycle --store azurite --users $${CYCLE_USERS:-10000} $${CYCLE_ARGS:-}

# Not part of `make test`: a long run (about 20 requests a second on a busy 2-core machine).
soak: install
	$(PY) -m bench soak --users $${SOAK_USERS:-10000} --clients $${SOAK_CLIENTS:-8} --fault-rate $${SOAK_FAULT_RATE:-0.02}

clean:
	rm -rf $(VENV) .venv-lock .venv-checkov .venv-pycep .venv-scim2-server node_modules .pytest_cache .mypy_cache .ruff_cache *.egg-info
