from __future__ import annotations

import re
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.char_counts import ascii_outside, count_chars
from data_pipeline.filters.registry import register_filter

_ALNUM_RUNS = re.compile(r"[^\W_]+")  # runs of Unicode letters and digits, as str.isalnum
_NOT_ALNUM_ASCII = ascii_outside(str.isalnum)


def alphanumeric_chars(text: str) -> int:
    """How many characters of `text` are letters or digits (data_pipeline/filters/char_counts.py)."""
    return count_chars(text, _NOT_ALNUM_ASCII, _ALNUM_RUNS)


@register_filter(110)
class AlphanumericFilter(CountingFilter):
    """Files with under 25% alphanumeric characters are tables of numbers, base64 or ASCII art
    (the `alphanum_fraction` cut of Codex/CodeParrot and The Stack's statistics)."""

    name = "alphanumeric"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        if q.min_alphanumeric_fraction is None:
            return None
        return cls(q.min_alphanumeric_fraction, exclusion_writer=exclusion_writer)

    def __init__(self, min_fraction: float = 0.25, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.min_fraction = min_fraction

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        if text and alphanumeric_chars(text) / len(text) < self.min_fraction:
            return False, "alphanumeric_fraction"
        return True
