"""What every starforge filter adds to datatrove's `BaseFilter`: byte counts for stats.json."""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter, get_filter_result


class CountingFilter(BaseFilter):
    """A `BaseFilter` that also sums the files' on-disk sizes in (`bytes_in`) and dropped
    (`bytes_dropped`); datatrove already counts documents in, forwarded and dropped per reason."""

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        results = [self.filter(doc) for doc in batch]
        for doc, result in zip(batch, results):
            size = doc.metadata.get("size", 0)
            self.stat_update("bytes_in", value=size)
            if not get_filter_result(result)[0]:
                self.stat_update("bytes_dropped", value=size)
        return results
