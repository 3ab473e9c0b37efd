from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(50)
class EmptyFilter(CountingFilter):
    """Empty or whitespace-only files (many `__init__.py`): nothing to learn from."""

    name = "empty"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(exclusion_writer=exclusion_writer)

    def __init__(self, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not doc.text.strip():
            return False, "empty"
        return True
