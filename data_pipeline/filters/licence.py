from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter
from data_pipeline.readers.licences import PERMISSIVE, UNKNOWN, is_permissive


@register_filter(70)
class LicenceFilter(CountingFilter):
    """Permissive licences only, as The Stack (arXiv 2211.15533 section 3.1). `metadata.licence`
    is an SPDX expression (from the input's metadata, or the repository's LICENSE/COPYING file),
    or a list of them that must all be permissive; AND/OR/WITH and parentheses are evaluated by
    `is_permissive`. A file whose licence is not known is `unknown_licence`, kept only when
    `allow_unknown` says so; any other is `non_permissive_licence`."""

    name = "licence"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(cfg.permissive_licences, cfg.allow_unknown_licence, exclusion_writer=exclusion_writer)

    def __init__(self, permissive: Iterable[str] | None = None, allow_unknown: bool = False,
                 exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.permissive = frozenset(permissive if permissive is not None else PERMISSIVE)
        self.allow_unknown = allow_unknown

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        licence = doc.metadata.get("licence") or UNKNOWN
        if licence == UNKNOWN or licence == []:
            return True if self.allow_unknown else (False, "unknown_licence")
        if is_permissive(licence, self.permissive):
            return True
        return False, "non_permissive_licence"
