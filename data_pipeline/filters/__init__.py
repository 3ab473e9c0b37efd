"""Curation steps that drop files with a reason: one datatrove `BaseFilter` per file."""
