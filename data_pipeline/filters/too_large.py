from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(20)
class TooLargeFilter(CountingFilter):
    """Files over `max_bytes` (1 MB by default, The Stack's cap, arXiv 2211.15533): mostly data,
    generated code or archives. The reader never read their content."""

    name = "too_large"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(cfg.max_file_bytes, exclusion_writer=exclusion_writer)

    def __init__(self, max_bytes: int = 1_000_000, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.max_bytes = max_bytes

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata["size"] > self.max_bytes:
            return False, "too_large"
        return True
