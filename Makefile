# One entry point for every task. `make run` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml layers/dependencies/requirements.txt | cksum | cut -d' ' -f1)
# The benchmarks' own dependencies (the parse benchmark's peer), installed by make bench alone.
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# checkov pins its own boto3 and friends, which clash with moto's and awscli's: it gets a venv of its own.
CHECKOV_VERSION := 3.3.30
CHECKOV := $(VENV)/checkov/bin/checkov

.DEFAULT_GOAL := help
.PHONY: help install run test lint checkov format bench build deploy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP) ## Create .venv with the project and its tools

run: $(STAMP) ## Run the whole pipeline locally (moto, webhook API, Lambda API, Graph API simulator)
	$(BIN)/wa-local

test: $(STAMP) ## Run the test suite (in parallel: three workers share the cores while tests wait on I/O)
	$(BIN)/pytest -n 3 --dist loadgroup

lint: $(STAMP) checkov ## ruff, mypy, cfn-lint, sam validate --lint and checkov
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/shared local tools functions tests bench
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint

$(CHECKOV):
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@touch $@

checkov: $(CHECKOV) ## checkov over template.yaml: every finding fixed, or skipped in the template with its reason
	$(CHECKOV) --file template.yaml --framework cloudformation --compact --quiet --skip-download

format: $(STAMP) ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@rm -f $(VENV)/.bench-*
	@touch $@

# After make build: the package sizes are those of the artifacts a deploy would upload.
bench: $(BENCH_STAMP) build ## Run the benchmarks: one table, bench/results/latest.json (README=1: and the README's)
	$(BIN)/python -m bench $(if $(README),--readme,)

build: $(STAMP) ## sam build: artifacts for the template's runtime (python3.13) and arm64, no Docker
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHON="$(CURDIR)/$(BIN)/python" MAKEFLAGS= $(BIN)/sam build

deploy: build ## sam deploy (guided the first time: make deploy GUIDED=1; an environment: ENV=dev)
	$(BIN)/sam deploy $(if $(ENV),--config-env $(ENV),) $(if $(GUIDED),--guided,)

clean: ## Remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
