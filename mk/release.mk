# Releases and cost estimates: `make release` (one archive = module + built artifacts, for
# consumers in other repositories) and `make cost` (monthly estimate of a described workload).

DIST    ?= dist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: release

# RUNTIME, ARCH, BYTECODE and XRAY_SDK=true reach the build as for `make build`.
release: build ## One archive (dist/) holding the module and its built artifacts (VERSION=, RUNTIME=, ARCH=, XRAY_SDK=)
	$(PY) -m tools.release --artifacts build --out $(DIST) --version $(VERSION)
