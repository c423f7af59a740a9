# tiation — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := postgresql age zstd prometheus prometheus-alertmanager docker.io busybox-static

.PHONY: demo test test-fast lint typecheck bench deps venv clean k8s-test-cluster

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## Debian packages the tests need (installed only when missing, and only as root).
deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

## The Kubernetes control plane the tests run against, built from the Go module proxy once per machine
## into ~/.cache/tiation-k8s (about 15 min on 2 cores the first time, a no-op after).
k8s-test-cluster:
	@scripts/build-k8s-test-cluster.sh >/dev/null

demo: $(STAMP)
	$(BIN)/python examples/ecosystem/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) deps lint typecheck k8s-test-cluster
	$(BIN)/pytest -q -p no:cacheprovider tests

test-fast: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

bench: $(STAMP)
	$(BIN)/python bench/deploy_verdict.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/kube_verdict.py
	$(BIN)/python bench/compose_verdict.py

clean:
	rm -rf $(VENV) .tiation examples/ecosystem/.tiation .mypy_cache .ruff_cache
