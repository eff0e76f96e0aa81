"""Benchmarks behind `make bench`: broadcast, cold start, cost model (see docs/PERFORMANCE.md)."""
