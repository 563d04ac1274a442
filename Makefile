# The project's commands. `make help` lists them. Every target installs what it needs through this
# repository's own lock files (requirements*.txt with hashes, Cargo.lock with every cargo call
# --locked), so a fresh clone works with just Rust, Python 3 and make.

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
# Where Cargo puts binaries (CI points CARGO_TARGET_DIR outside the clone).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# make demo: the simulated organization, and where the report goes. RELEASE=1 runs the release
# artifacts of `make build` (the ones Lambda would run) instead of the debug build `make test` shares.
NODES ?= 300
ACCOUNTS ?= 3
DEMO_REGIONS ?= us-east-1,eu-west-1
SEED ?= 1
DEMO_OUT ?= demo-output
CHROMIUM ?= /usr/bin/chromium
# make deploy: the configuration file (deploy/example.toml documents every key); YES=1 skips the questions.
CONFIG ?= deploy.toml
YES ?=
# make publish: the Regions to deploy to and the artifact buckets' name prefix.
REGIONS ?=
ARTIFACT_BUCKET_PREFIX ?=

# Every crate with a src/main.rs on the Lambda runtime is a Lambda function; its folder, package and
# binary share a name. fleet-sim (a binary without the runtime) is a tool, not a function.
FUNCTIONS := $(shell for m in crates/*/src/main.rs; do c=$$(dirname $$(dirname $$m)); \
	if grep -q '^lambda_runtime' $$c/Cargo.toml; then basename $$c; fi; done)

# Never let the SDK probe the EC2 instance metadata endpoint on a developer machine or in CI.
export AWS_EC2_METADATA_DISABLED := true

VENV_STAMP := $(VENV)/.installed
CARGO_LAMBDA_ARCH := $(if $(filter arm64 aarch64,$(ARCH)),--arm64,--x86-64)

.PHONY: help demo setup lock test lint fmt sql-check cfn-check browser browser-check build templates publish deploy deploy-plan undeploy emulator bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

demo: setup ## The whole system locally, deployed by make deploy into the emulator, ending in report.html (NODES=300 ACCOUNTS=3 DEMO_REGIONS=... RELEASE=1)
	$(CARGO) build --locked --workspace --bins
ifeq ($(RELEASE),1)
	$(MAKE) --no-print-directory build
endif
	$(TARGET_DIR)/debug/demo --bin-dir $(if $(filter 1,$(RELEASE)),$(DIST),$(TARGET_DIR)/debug) \
		--nodes $(NODES) --accounts $(ACCOUNTS) --regions $(DEMO_REGIONS) --seed $(SEED) --out $(DEMO_OUT)

setup: $(VENV_STAMP) ## Python environment for the emulator, checks and cargo-lambda (idempotent)

# Python environments are installed from lock files only (every package at an exact version with its
# hashes, made by `make lock`): pip refuses a package the lock does not list, a hash that does not
# match, and (--only-binary) anything it would have to build, since build dependencies are not
# hash-checked. A changed lock recreates the environment, so nothing from an older lock stays behind.
PIP_INSTALL = pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all:

$(VENV_STAMP): requirements.txt
	$(PYTHON) -m venv --clear $(VENV)
	$(VENV)/bin/$(PIP_INSTALL) -r requirements.txt
	$(VENV)/bin/pip check --disable-pip-version-check
	@touch $@

lint: setup ## Format check, clippy with warnings as errors, and the IAM lint of every template policy
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(VENV)/bin/python tests/cfn/iam_lint.py

fmt: ## Format the code
	$(CARGO) fmt --all

test: setup browser-check lint cfn-check ## Everything CI runs: lint, SQL and template checks, unit and integration tests, a small demo
# First what a clean clone installed: every Python package from its lock, every cargo call --locked.
	$(VENV)/bin/python -m pytest -q tests/build
	$(CARGO) build --locked --workspace --bins
# The SQL checks on the fleet-sim the workspace build just made (`make sql-check` builds fleet-sim
# alone, which compiles its dependencies again with other features: minutes on a cold cache).
	FLEET_SIM=$(TARGET_DIR)/debug/fleet-sim $(VENV)/bin/python -m pytest -q tests/sql
	$(CARGO) test --locked --workspace
	$(VENV)/bin/python -m pytest -q tests/emulator
	LOCAL_AWS=$(TARGET_DIR)/debug/local-aws $(VENV)/bin/python -m pytest -q tests/deploy
	CHROMIUM=$(CHROMIUM) FLEET_SIM=$(TARGET_DIR)/debug/fleet-sim $(VENV)/bin/python -m pytest -q tests/demo

# The report's browser test needs a chromium. make test only checks for it: installing a system
# package (root or sudo) is a step the user takes, once, with make browser (CI does so in .ci/run).
browser-check:
	@test -x $(CHROMIUM) || { echo "make test: the report's browser test needs chromium at $(CHROMIUM)." \
		"Run 'make browser' once (installs Debian's chromium package with apt; needs root or sudo)," \
		"or point CHROMIUM=... at a chromium or chrome binary." >&2; exit 2; }

browser: ## Install Debian's chromium for the report's browser test (idempotent)
	@test -x $(CHROMIUM) || { echo "installing chromium (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@echo "chromium: $(CHROMIUM)"

CHECKOV_VENV ?= .venv-checkov

cfn-check: setup $(CHECKOV_VENV)/.installed ## Templates: cfn-lint, checkov, templates vs code, least privilege, named queries
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(VENV)/bin/python -m pytest -q tests/cfn

$(CHECKOV_VENV)/.installed: tests/cfn/requirements-checkov.txt
	$(PYTHON) -m venv --clear $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/$(PIP_INSTALL) -r tests/cfn/requirements-checkov.txt
	$(CHECKOV_VENV)/bin/pip check --disable-pip-version-check
	@touch $@

# make lock: each lock from its hand-edited .in file, for every platform and Python 3.11 or newer
# (--universal), with the hashes of every file PyPI has for each version. Run it after editing a .in
# file; it keeps every version the .in files allow unchanged (--upgrade-package NAME, in UV_ARGS, moves
# one). Upgrading moto, boto3 or botocore: run `make test` on the new lock before committing it.
LOCK_VENV ?= .venv-lock
LOCKS := requirements.txt tests/cfn/requirements-checkov.txt requirements-lock.txt
UV_ARGS ?=

# Each lock starts with a header saying where it comes from, and the .in file's "# lock:" lines: what
# is held back on purpose and why.
lock: $(LOCK_VENV)/.installed ## Regenerate the Python lock files (requirements*.txt) from their .in files
	for lock in $(LOCKS); do in=$${lock%.txt}.in; \
		$(LOCK_VENV)/bin/uv pip compile --quiet --no-header --universal --python-version 3.11 \
			--generate-hashes $(UV_ARGS) $$in -o $$lock; \
		{ echo "# The lock of $$in, written by \`make lock\`: do not edit. Installed with pip --require-hashes."; \
		  sed -n 's/^# lock: /# /p' $$in; cat $$lock; } > $$lock.new; \
		mv $$lock.new $$lock; \
	done

$(LOCK_VENV)/.installed: requirements-lock.txt
	$(PYTHON) -m venv --clear $(LOCK_VENV)
	$(LOCK_VENV)/bin/$(PIP_INSTALL) -r requirements-lock.txt
	@touch $@

sql-check: setup ## The SQL we ship, on fleet-sim's fleet: parses as Athena (Trino) SQL, returns the ground truth in DuckDB
	$(CARGO) build --locked -p fleet-sim
	FLEET_SIM=$(TARGET_DIR)/debug/fleet-sim $(VENV)/bin/python -m pytest -q tests/sql

# The zip is the deployment artifact; the bare bootstrap beside it is what `make bench` (and the local
# demo) run. The second cargo-lambda call compiles nothing: it only copies the same binary.
build: setup ## Release Lambda artifacts (dist/lambda/<function>/bootstrap.zip; ARCH=x86_64|arm64) and dist/templates
	for format in zip binary; do \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --locked --release $(CARGO_LAMBDA_ARCH) \
			--output-format $$format --lambda-dir $(DIST) $(addprefix -p ,$(FUNCTIONS)); \
	done
	@for f in $(FUNCTIONS); do ls -l $(DIST)/$$f/bootstrap.zip; done
	$(MAKE) --no-print-directory templates

templates: setup ## The deployable templates: cfn/*.yaml with their SQL included, in dist/templates
	$(VENV)/bin/python cfn/render.py --out dist/templates

# A StackSet's functions read their code from a bucket in their own Region: one bucket per Region.
publish: build ## Upload the zips to <ARTIFACT_BUCKET_PREFIX>-<region> for each of REGIONS (ORG_ID: org read access)
	$(VENV)/bin/python cfn/publish.py --regions "$(REGIONS)" --bucket-prefix "$(ARTIFACT_BUCKET_PREFIX)" \
		--dist $(DIST) $(if $(ORG_ID),--org-id $(ORG_ID)) $(if $(VERSION),--version $(VERSION))

deploy: build ## Publish and deploy the whole organization from CONFIG (deploy.toml; YES=1: do not ask)
	$(VENV)/bin/python deploy/deploy.py deploy --config $(CONFIG) $(if $(filter 1,$(YES)),--yes)

deploy-plan: build ## Show what make deploy would change (publishes the artifacts, changes no stack)
	$(VENV)/bin/python deploy/deploy.py plan --config $(CONFIG)

undeploy: setup ## Remove every stack and StackSet of CONFIG, StackSets first; data kept if the file says so
	$(VENV)/bin/python deploy/deploy.py undeploy --config $(CONFIG) $(if $(filter 1,$(YES)),--yes)

emulator: setup ## The local AWS emulator with a Lambda runner on EMULATOR_PORT (default 5000) until Ctrl-C
	$(CARGO) build --locked -p local-aws
	$(TARGET_DIR)/debug/local-aws --port $(EMULATOR_PORT)

bench: build ## Benchmarks at realistic size: API calls per operation, wall time, peak memory; SQL on 10,000 realistic nodes and 100,000 small ones, with Athena's bytes scanned and cost
	$(CARGO) run --locked --quiet -p bench -- --dist $(DIST)
	$(CARGO) build --locked --release -p fleet-sim
# Bytes only at these sizes (--scan-only): DuckDB runs out of memory on the Config queries over a
# realistic 10,000-node fleet's snapshots, where Athena does not; make sql-check runs every query.
	$(VENV)/bin/python tests/sql/bench_sql.py --fleet-sim $(TARGET_DIR)/release/fleet-sim --nodes 10000 --scan-only
	$(VENV)/bin/python tests/sql/bench_sql.py --fleet-sim $(TARGET_DIR)/release/fleet-sim --nodes 100000 --item-scale 0.02 --scan-only

clean: ## Remove build outputs and the Python environment
	$(CARGO) clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(LOCK_VENV) dist $(DEMO_OUT)
