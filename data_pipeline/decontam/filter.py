"""Decontamination as a datatrove filter: a file that contains a benchmark snippet is removed.

The snippets and the matching rule (StarCoder's: exact substring, case-insensitive,
Aho-Corasick; snippets under `min_chars` skipped) are `starforge/decontam.py`'s, shared with
`finetune tapes-to-sft`. Every hit is reported: a removed record's `metadata.contamination` lists
each (benchmark, item, field) found, and stats count files per benchmark (`contaminated/<benchmark>`).
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from starforge.decontam import Snippet, SnippetMatcher


class DecontaminationFilter(CountingFilter):
    name = "decontamination"

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
