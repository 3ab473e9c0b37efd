"""Decontamination as a datatrove filter: exact substring, case-insensitive, Aho-Corasick.

As StarCoder (arXiv 2305.06161 section 3.5, bigcode-dataset `decontamination/`): a file that
contains any benchmark snippet verbatim (ignoring case) is removed. Snippets shorter than
`min_chars` (after stripping) are skipped: one-line solutions such as `return a + b` occur in
code everywhere and would remove innocent files. Every hit is reported: a removed record's
`metadata.contamination` lists each (benchmark, item, field) found, and stats count files per
benchmark (`contaminated/<benchmark>`).
"""

from __future__ import annotations

from collections.abc import Iterable

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.decontam.benchmarks import DEFAULT_FIELDS, Snippet, file_snippets, humaneval_snippets
from data_pipeline.filters.base import CountingFilter


def load_snippets(humaneval: bool = True, files: Iterable[str] = (), fields: Iterable[str] = DEFAULT_FIELDS
                  ) -> list[Snippet]:
    snippets = humaneval_snippets() if humaneval else []
    for spec in files:
        snippets += file_snippets(spec, fields)
    return snippets


class DecontaminationFilter(CountingFilter):
    name = "decontamination"

    def __init__(self, snippets: list[Snippet], min_chars: int = 50, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.snippets = [s for s in snippets if len(s.text.strip()) >= min_chars]
        self.min_chars = min_chars
        self._automaton = None

    def _build(self):
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for snippet in self.snippets:
            key = snippet.text.strip().lower()
            found = automaton.get(key, None)
            automaton.add_word(key, (found or ()) + ((snippet.benchmark, snippet.item, snippet.field),))
        if len(automaton):
            automaton.make_automaton()
        return automaton

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._automaton is None:
            self._automaton = self._build()
        if not len(self._automaton):
            return True
        hits = set()
        for _, sources in self._automaton.iter(doc.text.lower()):
            hits.update(sources)
        if not hits:
            return True
        doc.metadata["contamination"] = [{"benchmark": b, "item": i, "field": f} for b, i, f in sorted(hits)]
        for benchmark in sorted({b for b, _, _ in hits}):
            self.stat_update(f"contaminated/{benchmark}")
        return False, "benchmark_contamination"
