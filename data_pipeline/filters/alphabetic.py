from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.char_counts import ascii_outside, count_chars
from data_pipeline.filters.registry import register_filter

_ALPHA_RUNS = re.compile(r"[^\W\d_]+")  # runs of Unicode letters, as str.isalpha
_NOT_ALPHA_ASCII = ascii_outside(str.isalpha)


def alphabetic_chars(text: str) -> int:
    """How many characters of `text` are letters (data_pipeline/filters/char_counts.py)."""
    return count_chars(text, _NOT_ALPHA_ASCII, _ALPHA_RUNS)


@register_filter(120)
class AlphabeticFilter(CountingFilter):
    """StarCoder's alpha filter (arXiv 2305.06161 section 3.3): files with under 25% alphabetic
    characters are dropped. Thresholds are per extension (`".s": 0.1`), `"*"` for the rest; an
    extension mapped to None is not checked (StarCoder exempted assembly dialects)."""

    name = "alphabetic"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        return cls(q.min_alphabetic_fraction, exclusion_writer=exclusion_writer) if q.min_alphabetic_fraction else None

    def __init__(self, min_fraction: dict[str, float | None] | None = None,
                 exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.min_fraction = {k.lower(): v for k, v in (min_fraction or {"*": 0.25}).items()}

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        ext = PurePosixPath(doc.metadata.get("path") or doc.id).suffix.lower()
        threshold = self.min_fraction.get(ext, self.min_fraction.get("*"))
        text = doc.text
        if threshold is not None and text and alphabetic_chars(text) / len(text) < threshold:
            return False, "alphabetic_fraction"
        return True
