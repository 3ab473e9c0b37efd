from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(30)
class BinaryFilter(CountingFilter):
    """A NUL byte in the first `probe_bytes` marks a binary file, the heuristic of git
    (`buffer_is_binary`, first 8000 bytes) and GitHub linguist."""

    name = "binary"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(cfg.binary_probe_bytes, exclusion_writer=exclusion_writer)

    def __init__(self, probe_bytes: int = 8192, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.probe_bytes = probe_bytes

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.media and doc.media[0].media_bytes is not None:
            head = doc.media[0].media_bytes[: self.probe_bytes]
            binary = b"\x00" in head
        else:  # record inputs (JSONL/Parquet) carry text, not bytes
            binary = "\x00" in doc.text[: self.probe_bytes]
        if binary:
            return False, "binary"
        return True
