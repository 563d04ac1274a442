# The project's commands. `make help` lists them. Every target installs what it needs through this
# repository's own files (requirements.txt, Cargo.lock), so a fresh clone works with just Rust,
# Python 3 and make.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    ?= .venv
CARGO   ?= cargo
# x86_64 (default) or arm64. arm64 needs the aarch64-unknown-linux-gnu Rust target installed.
ARCH    ?= x86_64
DIST    ?= dist/lambda
EMULATOR_PORT ?= 5000
# make publish: the Regions to deploy to and the artifact buckets' name prefix.
REGIONS ?=
ARTIFACT_BUCKET_PREFIX ?=

# Every crate with a src/main.rs is a Lambda function; its folder, package and binary share a name.
FUNCTIONS := $(patsubst crates/%/src/main.rs,%,$(wildcard crates/*/src/main.rs))

# Never let the SDK probe the EC2 instance metadata endpoint on a developer machine or in CI.
export AWS_EC2_METADATA_DISABLED := true

VENV_STAMP := $(VENV)/.installed
CARGO_LAMBDA_ARCH := $(if $(filter arm64 aarch64,$(ARCH)),--arm64,--x86-64)

.PHONY: help setup test lint fmt sql-check cfn-check build publish emulator bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV_STAMP) ## Python environment for the emulator, checks and cargo-lambda (idempotent)

$(VENV_STAMP): requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

lint: ## Format check and clippy with warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

test: setup lint sql-check cfn-check ## Everything CI runs: lint, SQL and template checks, unit and integration tests against the emulator
	$(CARGO) build --locked --workspace --bins
	$(CARGO) test --locked --workspace
	$(VENV)/bin/python -m pytest -q tests/emulator

CHECKOV_VENV ?= .venv-checkov

cfn-check: setup $(CHECKOV_VENV)/.installed ## Templates: cfn-lint, checkov, templates vs code, least privilege, named queries
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(VENV)/bin/python -m pytest -q tests/cfn

$(CHECKOV_VENV)/.installed: tests/cfn/requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/cfn/requirements-checkov.txt
	@touch $@

sql-check: setup ## The SQL we ship: parses as Athena (Trino) SQL and returns the truth in DuckDB
	$(VENV)/bin/python -m pytest -q tests/sql

# The zip is the deployment artifact; the bare bootstrap beside it is what `make bench` (and the local
# demo) run. The second cargo-lambda call compiles nothing: it only copies the same binary.
build: setup ## Release Lambda artifacts: dist/lambda/<function>/bootstrap.zip (ARCH=x86_64|arm64)
	for format in zip binary; do \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --locked --release $(CARGO_LAMBDA_ARCH) \
			--output-format $$format --lambda-dir $(DIST) $(addprefix -p ,$(FUNCTIONS)); \
	done
	@for f in $(FUNCTIONS); do ls -l $(DIST)/$$f/bootstrap.zip; done

# A StackSet's functions read their code from a bucket in their own Region: one bucket per Region.
publish: build ## Upload the zips to <ARTIFACT_BUCKET_PREFIX>-<region> for each of REGIONS (ORG_ID: org read access)
	$(VENV)/bin/python cfn/publish.py --regions "$(REGIONS)" --bucket-prefix "$(ARTIFACT_BUCKET_PREFIX)" \
		--dist $(DIST) $(if $(ORG_ID),--org-id $(ORG_ID)) $(if $(VERSION),--version $(VERSION))

emulator: setup ## Run the local AWS emulator on EMULATOR_PORT (default 5000) until Ctrl-C
	@echo "AWS_ENDPOINT_URL=http://127.0.0.1:$(EMULATOR_PORT) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
	$(VENV)/bin/python tests/emulator/emulator.py --port $(EMULATOR_PORT)

bench: build ## Benchmarks at realistic size: API calls per operation, wall time, peak memory
	$(CARGO) run --locked --quiet -p integration-tests --bin bench -- --dist $(DIST)

clean: ## Remove build outputs and the Python environment
	$(CARGO) clean
	rm -rf $(VENV) $(CHECKOV_VENV) dist
