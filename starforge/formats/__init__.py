"""Hand-off formats between stages: one module per format, each a section of docs/formats.md."""
