# erp.platform: set up, run and test from a fresh clone.
#
#   make demo    start the local cluster and deploy the whole system to it
#   make test    every check and test; stops after the first phase that fails
#
# Each target installs what it needs into .venv on first use (Python 3.11, pins in requirements-dev.txt).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# Steps of `make test` run one after another, in the order listed, even under `make -j`.
.NOTPARALLEL:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BUILD := $(CURDIR)/.build
# The stamp's name carries a hash of the pins, so editing a requirements file reinstalls.
REQUIREMENTS := requirements-uv.txt requirements-dev.txt requirements.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)
CLUSTER := tools/localcluster/cluster.sh
INVENTORY ?= inventories/local
SANITY_ARGS ?=
PYTEST_ARGS ?=

# Every tool runs from the project virtualenv (ansible-lint and molecule also call ansible-config from PATH).
export PATH := $(VENV)/bin:$(PATH)
# uv (make venv, tools/ci/scan.sh, tools/bench/run.sh) trusts the system's certificates, as pip is configured to here.
export UV_SYSTEM_CERTS := 1

.PHONY: help venv lint sanity package scan rules unit checks integration molecule test cluster-up cluster-down demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the pinned tools (done on demand by every target)

# pip installs uv (requirements-uv.txt), and uv the pins: 24 s where pip took 67 s, both with their caches warm.
# --compile-bytecode, as pip does: where PYTHONDONTWRITEBYTECODE is set (CI machines here), Python never caches
# what it compiles, and every ansible-playbook run then compiled ansible-core again (an empty play: 1.2 to 1.4 s
# instead of 0.55 s).
$(STAMP): $(REQUIREMENTS)
	@echo "==> installing the pinned tools into .venv"
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "make: .venv must be Python 3.11 (set PYTHON=...); remove .venv and retry")'
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-uv.txt
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(VENV)/bin/python -r requirements-dev.txt -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

lint: $(STAMP) ## yamllint, ansible-lint (production profile), ruff, shellcheck; reports every tool, fails if any failed
	@failed=""; \
	echo "==> yamllint"; yamllint --strict . || failed="$$failed yamllint"; \
	echo "==> ansible-lint"; ansible-lint --nocolor || failed="$$failed ansible-lint"; \
	echo "==> ruff check"; ruff check . || failed="$$failed ruff-check"; \
	echo "==> ruff format --check"; ruff format --check . || failed="$$failed ruff-format"; \
	echo "==> shellcheck"; \
	git ls-files -z --cached --others --exclude-standard -- '*.sh' .ci/run | xargs -0 -r shellcheck -x || failed="$$failed shellcheck"; \
	if [ -n "$$failed" ]; then echo "make lint: failed:$$failed" >&2; exit 1; fi

sanity: $(STAMP) ## ansible-test sanity --python 3.11 on a staged copy in .build/ (no containers)
	tools/ci/sanity.sh $(BUILD) $(SANITY_ARGS)

package: $(STAMP) ## build erp-platform-<version>.tar.gz and check it holds collection content only
	tools/ci/check-artifact.sh $(BUILD)/dist

# pytest exits 5 when it collects no test, so an empty suite fails here too.
scan: $(STAMP) ## render prod and scan it with checkov's Kubernetes checks (checkov in its own .venv-scan)
	tools/ci/scan.sh $(CURDIR)/out/scan

rules: $(STAMP) ## promtool (built from the Go module proxy, cached): check the alert rules and dashboard queries, unit-test every alert
	tools/ci/rules.sh $(CURDIR)/out/rules

unit: $(STAMP) ## pytest tests/unit
	pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) ## pytest tests/integration against a local cluster started and stopped for the run (three workers, then the cluster_wide tests alone)
	tools/ci/with-cluster.sh -- tools/ci/integration.sh $(PYTEST_ARGS)

# Molecule finds the scenarios itself: extensions/molecule/ when run from the collection root.
molecule: $(STAMP) ## molecule test --all (the scenarios start and stop their own cluster)
	@if ! compgen -G "extensions/molecule/*/molecule.yml" >/dev/null && ! compgen -G "molecule/*/molecule.yml" >/dev/null; then \
		echo "make molecule: no scenario (extensions/molecule/*/molecule.yml): nothing to run is a failure" >&2; exit 1; fi
	molecule test --all

checks: $(STAMP) ## lint, sanity, package, scan, rules and unit on two lanes side by side (tools/ci/checks.sh); reports every failure
	tools/ci/checks.sh

test: checks integration molecule ## the checks (lint, sanity, package, scan, rules, unit: side by side), then integration, then molecule; stops after the first of the three that fails

cluster-up: ## start the local cluster (builds it on first use); prints `export KUBECONFIG=...` last
	$(CLUSTER) up

cluster-down: ## stop the local cluster and remove its state
	$(CLUSTER) down

demo: $(STAMP) ## start the local cluster and deploy the system with inventories/local; the cluster stays up
	tools/ci/with-cluster.sh --keep -- ansible-playbook site.yml -i $(INVENTORY)
	@echo "The cluster keeps running: '$(CLUSTER) status' prints its KUBECONFIG; 'make cluster-down' stops it."

bench: $(STAMP) ## benchmark against kubectl, Helm 4 and Helm 3 on the local cluster; writes docs/benchmarks.md and its chart (about 40 min; builds Helm once)
	tools/bench/run.sh

clean: ## remove build trees and test output (keeps .venv and the cluster cache)
	rm -rf $(BUILD) tests/output
