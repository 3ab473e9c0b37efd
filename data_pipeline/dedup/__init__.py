"""Deduplication steps."""
