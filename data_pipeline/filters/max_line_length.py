from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter

LONG_LINE_EXEMPT = ("HTML", "JSON", "Markdown", "Roff", "SMT", "TeX", "Text", "XML", "Jupyter Structured")
"""StarCoder (arXiv 2305.06161 section 3.3) holds these to 100,000 characters a line, not 1,000;
structured notebooks too, as their outputs (tables, reprs) are one long line by nature."""


@register_filter(90)
class MaxLineLengthFilter(CountingFilter):
    """StarCoder's long-line filter: a line over 1,000 characters marks minified or generated
    code or embedded data (`max_line_length`); the languages in `exempt` get `exempt_max`; files
    over `max_lines` lines (100,000) are data or generated too (`too_many_lines`)."""

    name = "max_line_length"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        if q.max_line_length is None:
            return None
        return cls(q.max_line_length, q.long_line_exempt_languages, q.max_line_length_exempt, q.max_lines,
                   exclusion_writer=exclusion_writer)

    def __init__(self, max_length: int = 1000, exempt: Iterable[str] = LONG_LINE_EXEMPT, exempt_max: int = 100_000,
                 max_lines: int | None = 100_000, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.max_length = max_length
        self.exempt = frozenset(exempt)
        self.exempt_max = exempt_max
        self.max_lines = max_lines

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        lines = doc.text.splitlines()
        if self.max_lines is not None and len(lines) > self.max_lines:
            return False, "too_many_lines"
        limit = self.exempt_max if doc.metadata.get("lang") in self.exempt else self.max_length
        if max(map(len, lines), default=0) > limit:
            return False, "max_line_length"
        return True
