# Serverless WebSocket platform: every entry point a developer needs.
# The first target that needs Python creates .venv from the pinned requirements.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
# `make dev`, `token` and `publish` need only the gateway's lean subset (requirements/gateway.txt).
GATEWAY_STAMP := $(VENV)/.installed-gateway

# Lambda build settings (module variables lambda_runtime / lambda_architecture)
RUNTIME ?= python3.13
ARCH    ?= arm64
# .pyc for the runtime: auto (when a CPython of its version is found), required or off
BYTECODE ?= auto

# Local gateway settings, shared by dev, token and publish
PORT  ?= 3001
STAGE ?= dev
HOST  ?= 127.0.0.1
export PORT STAGE HOST

# Area fragments add their prerequisites for `make test` here.
TEST_DEPS :=
-include mk/*.mk

.PHONY: help venv test lint pytest build clean token system-deps

# Installs (as root, with apt) or names the system packages a target needs: venv, node, chromium.
SYSTEM_DEPS := tools/system_deps.sh

# `make help` lists these first, in this order; the other documented targets follow.
HELP_FIRST := dev test token publish build plan apply bench

help: ## Show the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' -v first="$(HELP_FIRST)" ' \
	  BEGIN { n = split(first, order, " "); for (i = 1; i <= n; i++) top[order[i]] = 1 } \
	  { text[$$1] = $$2; if (!($$1 in top)) rest[++m] = $$1 } \
	  END { print "Start here:"; \
	        for (i = 1; i <= n; i++) printf "  %-12s %s\n", order[i], text[order[i]]; \
	        print "\nOther targets:"; \
	        for (j = 1; j <= m; j++) printf "  %-12s %s\n", rest[j], text[rest[j]] }'

# Every requirements/*.txt is fully pinned; areas add their own file (e.g. terraform.txt).
REQUIREMENTS := $(sort $(wildcard requirements/*.txt))
GATEWAY_REQUIREMENTS := requirements/gateway.txt requirements/lambda.txt

# $(call venv_install,what it is for,requirement files): create .venv when missing (Python
# 3.11+, the venv module), then pip-install the files, saying what happens and how long it took.
define venv_install
	@test -x $(PY) || { PYTHON=$(PYTHON) $(SYSTEM_DEPS) venv && $(PYTHON) -m venv $(VENV); }
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@echo "make: installing $(1) into $(VENV) from $(2) (only on a first run or after they change)" >&2
	@start=$$(date +%s); $(PY) -m pip install --quiet --disable-pip-version-check $(addprefix -r ,$(2)) \
	  && echo "make: $(VENV) ready in $$(( $$(date +%s) - start )) s ($$(du -sh $(VENV) | cut -f1))" >&2
endef

$(GATEWAY_STAMP): $(GATEWAY_REQUIREMENTS)
	$(call venv_install,the local gateway's pinned requirements (~160 MB),$(GATEWAY_REQUIREMENTS))
	@touch $@

# The full tool chain is a superset of the gateway's requirements: it satisfies both stamps.
$(STAMP): $(REQUIREMENTS)
	$(call venv_install,the full pinned tool chain (tests; lint; Terraform; browser: ~800 MB),$(REQUIREMENTS))
	@touch $@ $(GATEWAY_STAMP)

venv: $(STAMP) ## Create the virtual environment from pinned requirements

lint: $(STAMP) ## ruff + mypy (and the Terraform checks of mk/*.mk)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest

system-deps: ## System packages the tests need (python3-venv, nodejs, chromium): installed as root, else named
	@PYTHON=$(PYTHON) $(SYSTEM_DEPS) venv node chromium

test: system-deps lint pytest $(TEST_DEPS) ## Every test (lint, unit, functional, integration, Terraform, browser)

build: $(STAMP) ## Lambda layer and function zips in build/ (RUNTIME=, ARCH=, BYTECODE=)
	$(PY) -m tools.build --runtime $(RUNTIME) --arch $(ARCH) --bytecode $(BYTECODE) --out build

clean: ## Remove build outputs and caches (keeps .venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis

token: $(GATEWAY_STAMP) ## Print a dev JWT: make -s token USER=alice TENANT=acme [ROOMS='lobby,team-*']
	@PYTHONPATH=lambda_src $(PY) tools/devtoken.py --user "$(USER)" --tenant "$(TENANT)" --rooms "$(ROOMS)"

