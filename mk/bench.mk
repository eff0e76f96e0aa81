# Benchmarks (docs/PERFORMANCE.md): broadcast through the real delivery path against a local
# endpoint process, cold starts, artifact sizes, cost model. Writes build/bench/results.json.
# A few minutes on 2 cores; BENCH_ARGS=--quick for a shorter run.
BENCH_ARGS ?=

.PHONY: bench
bench: $(STAMP) $(WHEELHOUSE_STAMP) ## Benchmarks -> build/bench/results.json (BENCH_ARGS=--quick)
	PYTHONPATH=lambda_src:lambda_src/handlers:. $(PY) -m bench $(BENCH_ARGS)
