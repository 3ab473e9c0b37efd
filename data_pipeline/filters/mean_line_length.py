from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.max_line_length import LONG_LINE_EXEMPT
from data_pipeline.filters.registry import register_filter


@register_filter(100)
class MeanLineLengthFilter(CountingFilter):
    """StarCoder's average-line-length filter: over 100 characters a line on average is data or
    minified code, not source a person wrote (arXiv 2305.06161 section 3.3; the same languages
    as the long-line filter are exempt)."""

    name = "mean_line_length"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        if q.mean_line_length is None:
            return None
        return cls(q.mean_line_length, q.long_line_exempt_languages, exclusion_writer=exclusion_writer)

    def __init__(self, max_mean: float = 100, exempt: Iterable[str] = LONG_LINE_EXEMPT,
                 exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.max_mean = max_mean
        self.exempt = frozenset(exempt)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata.get("lang") in self.exempt:
            return True
        lines = doc.text.splitlines()
        if lines and sum(map(len, lines)) / len(lines) > self.max_mean:
            return False, "mean_line_length"
        return True
