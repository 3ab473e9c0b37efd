"""User-facing errors: the CLI prints their message alone and exits 2.

A `StarforgeError` is a mistake the user can fix (a path, a config key, a bad file). Bugs stay
ordinary exceptions with tracebacks. Each stage raises its own subclass so messages can be
grepped by stage.
"""


class StarforgeError(Exception):
    """A mistake the user can fix: the CLI prints the message alone and exits 2."""


class ConfigError(StarforgeError, ValueError):
    """An unknown key, a value of the wrong type, an unreadable config file, or a value a config's
    `__post_init__` refuses (also a ValueError, what those checks raised before)."""


class DataError(StarforgeError):
    """Missing, empty or malformed input data (corpus, kept JSONL, shards)."""


class FormatError(DataError):
    """A hand-off file between stages is not in its documented format."""


class PiiError(StarforgeError):
    """PII scanning or redaction could not run on the given input."""


class PretrainError(StarforgeError):
    """Inconsistent model/parallel config, missing shards, or a bad checkpoint."""


class FinetuneError(StarforgeError):
    """Bad fine-tuning input or configuration."""


class EvalError(StarforgeError):
    """Missing dataset, bad generations file, or an unloadable model."""


class AttributionError(StarforgeError):
    """Missing or corrupt index, or a bad query."""
