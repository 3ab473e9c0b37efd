from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(150)
class DataFileSizeFilter(CountingFilter):
    """StarCoder keeps JSON and YAML files of 50 to 5,000 characters only (section 3.3): smaller
    ones hold nothing, larger ones are data dumps rather than configuration."""

    name = "data_file_size"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        if q.data_file_chars is None:
            return None
        return cls(q.data_file_chars[0], q.data_file_chars[1], q.data_file_languages, exclusion_writer=exclusion_writer)

    def __init__(self, min_chars: int = 50, max_chars: int = 5000, languages: Iterable[str] = ("JSON", "YAML"),
                 exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.languages = frozenset(languages)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata.get("lang") in self.languages and not self.min_chars <= len(doc.text) <= self.max_chars:
            return False, "data_file_size"
        return True
