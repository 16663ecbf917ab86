# Two commands for a new machine: `make run` and `make test`. Everything else is a helper of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.12; prefer the same interpreter locally (pyenv has it on this kind of machine).
# (pyenv's shim for python3.12 exists but refuses to run unless 3.12 is selected, so try real binaries.)
PYTHON ?= $(shell for p in $$(ls /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null) python3.12 python3; do \
	  $$p -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { command -v $$p || echo $$p; } && break; done)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
PORT ?= 4000

export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS := True
export SAM_CLI_TELEMETRY := 0

.PHONY: help install run test test-fast bench bench-report bench-proxy-venv sam-cli validate build clean

help:
	@echo "make run    - install into .venv and start the gateway on 127.0.0.1:$(PORT) (moto + mock model)"
	@echo "make test   - install and run the whole test suite (includes sam validate/build)"
	@echo "make bench  - benchmarks (not part of make test); BENCH_ARGS='--requests 200' for a shorter run"
	@echo "make build  - sam build (dependencies for python3.12 / arm64)"

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# aws-sam-cli pins boto3/click/pydantic versions that clash with the runtime: it gets a venv of its own.
$(SAM):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==$(SAM_CLI_VERSION)

sam-cli: $(SAM)

run: $(STAMP)
	PORT=$(PORT) $(VPY) scripts/run_local.py

test: $(STAMP) $(SAM)
	SAM_CLI=$(abspath $(SAM)) PATH="$(dir $(PYTHON)):$$PATH" $(VPY) -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(VPY) -m pytest -q -m "not sam" $(PYTEST_ARGS)

# LiteLLM's own proxy, for side-by-side numbers in bench/gateway_bench.py (never imported by the gateway).
PROXY_VENV := .venv-proxy
$(PROXY_VENV)/bin/litellm:
	test -x $(PROXY_VENV)/bin/python || $(PYTHON) -m venv $(PROXY_VENV)
	$(PROXY_VENV)/bin/pip install -q 'litellm[proxy]==1.106.2'

bench-proxy-venv: $(PROXY_VENV)/bin/litellm

# Every benchmark, the cost tables and the plot (bench/results/), then the README's and
# docs/benchmarks.md's generated tables from bench/results/all.json.
bench: $(STAMP) $(PROXY_VENV)/bin/litellm
	$(VPY) bench/run_all.py $(BENCH_ARGS); status=$$?; $(VPY) scripts/bench_report.py && exit $$status

bench-report: $(STAMP)
	$(VPY) scripts/bench_report.py

validate: $(SAM)
	$(SAM) validate --lint

build: $(SAM)
	PATH="$(dir $(PYTHON)):$$PATH" $(SAM) build

clean:
	rm -rf .aws-sam $(VENV) $(SAM_VENV) $(PROXY_VENV)
