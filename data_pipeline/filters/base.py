"""What every starforge filter adds to datatrove's `BaseFilter`: byte and token counts for
stats.json and per-language counts for the funnel report."""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result


def count_in(step, doc: Document) -> None:
    """Stats of a document entering `step`: bytes (its file's size), tokens (`metadata.tokens`,
    0 before the text is decoded), overall and per language."""
    _count(step, doc, "in")


def count_dropped(step, doc: Document) -> None:
    """Stats of a document `step` removes (the same fields as `count_in`)."""
    _count(step, doc, "dropped")


def _count(step, doc: Document, what: str) -> None:
    size, tokens = doc.metadata.get("size", 0), doc.metadata.get("tokens", 0)
    lang = doc.metadata.get("lang", "unknown")
    step.stat_update(f"bytes_{what}", value=size)
    step.stat_update(f"tokens_{what}", value=tokens)
    step.stat_update(f"lang_{what}/{lang}")
    step.stat_update(f"lang_bytes_{what}/{lang}", value=size)
    step.stat_update(f"lang_tokens_{what}/{lang}", value=tokens)


class CountingFilter(BaseFilter):
    """A `BaseFilter` that also sums the files' on-disk sizes and tokens in (`bytes_in`,
    `tokens_in`) and dropped (`bytes_dropped`, `tokens_dropped`), overall and per language
    (`lang_in/<lang>`, `lang_bytes_in/<lang>`, `lang_tokens_in/<lang>`, and the `_dropped`
    forms); datatrove already counts documents in, forwarded and dropped per reason."""

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        results = [self.filter(doc) for doc in batch]
        for doc, result in zip(batch, results):
            count_in(self, doc)
            if not get_filter_result(result)[0]:
                count_dropped(self, doc)
        return results
