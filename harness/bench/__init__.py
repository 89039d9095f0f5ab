"""Stage 8, benchmarks across hardware: pytest-benchmark's result files of many machines in one table."""
