# Lambda build: a wheelhouse of the layer's dependencies for THIS machine's Python and
# architecture, downloaded once (network allowed at install time) so that the build tests
# can run tools/build.py offline with --find-links $(WHEELHOUSE) --no-index.
WHEELHOUSE       := $(VENV)/wheelhouse
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.complete

$(WHEELHOUSE_STAMP): $(STAMP) requirements/lambda.txt tools/build.py
	rm -rf $(WHEELHOUSE)
	$(PY) -m tools.build --local --download-wheels $(WHEELHOUSE)
	@mkdir -p $(WHEELHOUSE) && touch $@

.PHONY: wheelhouse
wheelhouse: $(WHEELHOUSE_STAMP) ## Wheels for offline build tests (this machine's platform)

# The build tests run under `pytest`; give that rule the wheelhouse as an extra prerequisite.
pytest: $(WHEELHOUSE_STAMP)
