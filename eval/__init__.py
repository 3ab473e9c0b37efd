"""bigcode-evaluation-harness-compatible code benchmarks with sandboxed execution."""
