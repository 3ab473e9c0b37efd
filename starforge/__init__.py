"""starforge: an open stack for building StarCoder-style code LLMs end to end.

This package holds only what every stage shares (CLI, config, errors, logging); each stage is a
top-level package of its own: data_pipeline, pii, pretrain, finetune, eval, attribution.
"""

__version__ = "0.1.0"
