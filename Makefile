# The single task runner. Recipes stay short: the logic lives in scripts/ (see docs/stack.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.install-stamp
STACK_ENV := $(or $(ORCHESTRATOR_STACK_STATE_DIR),.stack)/env
PYTEST_ARGS ?=

.PHONY: install stack-up stack-down stack-status stack-reset test test-cluster lint fmt run bench conductor-diff clean

install: $(STAMP)

# Reinstalls only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -e '.[dev]'
	scripts/install_browser.sh
	touch $@

# KAFKA_SECURITY=sasl_ssl: the broker with only SASL_SSL and mutual-TLS listeners (docs/stack.md).
stack-up:
	$(PYTHON) scripts/stack.py up $(if $(KAFKA_SECURITY),--kafka-security $(KAFKA_SECURITY))

stack-down:
	$(PYTHON) scripts/stack.py down

stack-status:
	$(PYTHON) scripts/stack.py status

stack-reset:
	$(PYTHON) scripts/stack.py reset

test: install stack-up
	. $(STACK_ENV) && $(VENV)/bin/pytest tests --durations=25 $(PYTEST_ARGS)

# Only the three-broker fault tests (issue #19; part of `make test` too): they start their own
# cluster, and -s prints the stalls measured after each broker kill.
test-cluster: install stack-up
	. $(STACK_ENV) && $(VENV)/bin/pytest tests/cluster -s $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy orchestrator/domain

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The end-to-end benchmark (docs/benchmarks.md); e.g. make bench BENCH_ARGS='--rate 100'.
BENCH_ARGS ?= --rate 50 --duration 30 --processors 1 --worker-processes 1
bench: install stack-up
	. $(STACK_ENV) && $(VENV)/bin/orchestrator bench $(BENCH_ARGS) --json bench-results.json --plot bench-results.png

# Conductor's spec cases against the real Conductor (CONDUCTOR_URL) and our server, started on
# the stack (docs/conductor-compatibility.md); e.g. make conductor-diff DIFF_ARGS='-k ForkJoin'.
CONDUCTOR_URL ?= http://127.0.0.1:8127
DIFF_ARGS ?=
conductor-diff: install stack-up
	. $(STACK_ENV) && $(VENV)/bin/python scripts/conductor_diff.py --reference $(CONDUCTOR_URL) $(DIFF_ARGS)

# scripts/run.sh brings the stack up itself, so that on Ctrl-C it stops only what it started.
run: install
	scripts/run.sh

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
