# Releases and cost estimates: `make release` (one archive = module + built artifacts, for
# consumers in other repositories) and `make cost` (monthly estimate of a described workload).

DIST    ?= dist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: release

# RUNTIME, ARCH, BYTECODE and XRAY_SDK=true reach the build as for `make build`.
release: build ## One archive (dist/) holding the module and its built artifacts (VERSION=, RUNTIME=, ARCH=, XRAY_SDK=)
	$(PY) -m tools.release --artifacts build --out $(DIST) --version $(VERSION)

# Cost model (bench/estimate.py): the operations of a described workload measured through the
# real handlers on moto (a few seconds), priced with the dated list prices of bench/prices.json.
COST_ARGS ?=

.PHONY: cost

cost: $(STAMP) ## Monthly estimate: make cost COST_ARGS="--peak-connections 5000 --messages-per-second 20 --room-size 50 [--history]"
	@PYTHONPATH=lambda_src:lambda_src/handlers:. $(PY) -m bench.estimate $(COST_ARGS)
