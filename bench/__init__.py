"""Benchmarks: each runs as `python -m bench.X` and ends with one JSON line."""
