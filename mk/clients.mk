# Client SDKs: the JavaScript client's unit tests (Node's built-in runner, no npm install).
# The Python client's tests live in tests/clients/ and run with `make pytest`.
NODE ?= node

.PHONY: js-test

js-test: ## JavaScript client unit tests (node --test, fake socket and timers)
	@command -v $(NODE) >/dev/null 2>&1 || { echo "js-test: '$(NODE)' not found; install Node.js >= 20 (Debian: apt-get install nodejs)" >&2; exit 1; }
	@$(NODE) -e 'const [major, minor] = process.versions.node.split(".").map(Number); if (major < 20 || (major === 20 && minor < 11)) { console.error("js-test: Node >= 20.11 is required, found " + process.version); process.exit(1); }'
	$(NODE) --test --test-reporter=spec --disable-warning=ExperimentalWarning clients/js/test/

TEST_DEPS += js-test
