# tiation — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := postgresql age zstd prometheus prometheus-alertmanager

.PHONY: demo test test-fast lint typecheck bench deps venv clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## Debian packages the tests need (installed only when missing, and only as root).
deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

demo: $(STAMP)
	$(BIN)/python examples/ecosystem/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) deps lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider tests

test-fast: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

bench: $(STAMP)
	$(BIN)/python bench/deploy_verdict.py
	$(BIN)/python bench/cli_startup.py

clean:
	rm -rf $(VENV) .tiation examples/ecosystem/.tiation .mypy_cache .ruff_cache
