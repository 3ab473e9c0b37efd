"""What every starforge filter adds to datatrove's `BaseFilter`: byte counts for stats.json and
per-language counts for the funnel report."""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result


class CountingFilter(BaseFilter):
    """A `BaseFilter` that also sums the files' on-disk sizes in (`bytes_in`) and dropped
    (`bytes_dropped`), overall and per language (`lang_in/<lang>`, `lang_bytes_in/<lang>`,
    `lang_dropped/<lang>`, `lang_bytes_dropped/<lang>`); datatrove already counts documents in,
    forwarded and dropped per reason."""

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        results = [self.filter(doc) for doc in batch]
        for doc, result in zip(batch, results):
            size = doc.metadata.get("size", 0)
            lang = doc.metadata.get("lang", "unknown")
            self.stat_update("bytes_in", value=size)
            self.stat_update(f"lang_in/{lang}")
            self.stat_update(f"lang_bytes_in/{lang}", value=size)
            if not get_filter_result(result)[0]:
                self.stat_update("bytes_dropped", value=size)
                self.stat_update(f"lang_dropped/{lang}")
                self.stat_update(f"lang_bytes_dropped/{lang}", value=size)
        return results
