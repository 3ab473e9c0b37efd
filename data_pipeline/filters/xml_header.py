from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(130)
class XmlHeaderFilter(CountingFilter):
    """StarCoder drops files opening with an XML declaration: exported data, not code (section
    3.3: `<?xml version=` within the first 100 characters)."""

    name = "xml_header"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        return None if q.xml_head_chars is None else cls(q.xml_head_chars, exclusion_writer=exclusion_writer)

    def __init__(self, head_chars: int = 100, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.head_chars = head_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if "<?xml version=" in doc.text[: self.head_chars]:
            return False, "xml_header"
        return True
