"""Decontamination: drop training files that contain evaluation benchmarks' texts."""
