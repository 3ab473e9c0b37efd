"""Trace generated code back to the training files it came from."""
