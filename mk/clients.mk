# Client SDKs: the JavaScript client's unit tests (Node's built-in runner, no npm install).
# The Python client's tests live in tests/clients/ and run with `make pytest`.
NODE ?= node

.PHONY: js-test

js-test: ## JavaScript client unit tests (node --test, fake socket and timers)
	@NODE=$(NODE) $(SYSTEM_DEPS) node
	$(NODE) --test --test-reporter=spec --disable-warning=ExperimentalWarning clients/js/test/

TEST_DEPS += js-test
