from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(10)
class UnreadableFilter(CountingFilter):
    """Files the reader could not open (permissions, broken or folder symlinks, sockets): their
    `read_error` says why. Links to files outside their repository (issue 18: a link to
    /etc/passwd is not the repository's text) have their own reason, `link_outside_repository`;
    records that did not parse (`invalid_record`) theirs."""

    name = "unreadable"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(exclusion_writer=exclusion_writer)

    def __init__(self, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if "read_error" in doc.metadata:
            if doc.metadata.get("link_outside"):
                return False, "link_outside_repository"
            if doc.metadata.get("invalid_record"):
                return False, "invalid_record"
            return False, "unreadable"
        return True
