from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter
from starforge.formats.licences import PERMISSIVE, UNKNOWN, blocking_licences, is_permissive


@register_filter(70)
class LicenceFilter(CountingFilter):
    """Permissive licences only, as The Stack (arXiv 2211.15533 section 3.1). `metadata.licence`
    is an SPDX expression (from the input's metadata, or the repository's LICENSE/COPYING file),
    or a list of them that must all be permissive; AND/OR/WITH and parentheses are evaluated by
    `is_permissive`. A file whose licence is not known is `unknown_licence`, kept only when
    `allow_unknown` says so; any other is `non_permissive_licence`, and `metadata.non_permissive`
    names the ids that block it (`GPL-3.0-only`: copyleft is named, never lumped into unknown),
    counted per id in the step's stats (`licence/<id>`)."""

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
        blocking = blocking_licences(licence, self.permissive)
        if blocking:
            doc.metadata["non_permissive"] = " ".join(blocking)
            for spdx in blocking:
                self.stat_update(f"licence/{spdx}")
        return False, "non_permissive_licence"
