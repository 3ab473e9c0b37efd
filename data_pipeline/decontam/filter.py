"""Decontamination as a datatrove filter: a file that contains a benchmark snippet is removed.

The snippets and the matching rule (StarCoder's: exact substring, case-insensitive,
Aho-Corasick; snippets under `min_chars` skipped) are `starforge/decontam.py`'s, shared with
`finetune tapes-to-sft`. Every hit is reported: a removed record's `metadata.contamination` lists
each (benchmark, item, field) found, and stats count files per benchmark (`contaminated/<benchmark>`).
"""

from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter
from starforge.decontam import Snippet, SnippetMatcher, load_snippets


@register_filter(30, stage="dedup_filter")
class DecontaminationFilter(CountingFilter):
    name = "decontamination"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        dc = cfg.decontamination
        if dc is None:
            return None
        return cls(load_snippets(dc.humaneval, dc.files, dc.fields), dc.min_chars, exclusion_writer=exclusion_writer)

    def __init__(self, snippets: list[Snippet], min_chars: int = 50, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.matcher = SnippetMatcher(snippets, min_chars=min_chars)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        hits = self.matcher.matches(doc.text)
        if not hits:
            return True
        doc.metadata["contamination"] = [{"benchmark": b, "item": i, "field": f} for b, i, f in hits]
        for benchmark in sorted({b for b, _, _ in hits}):
            self.stat_update(f"contaminated/{benchmark}")
        return False, "benchmark_contamination"
