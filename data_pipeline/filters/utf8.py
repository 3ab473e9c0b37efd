from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter


@register_filter(40)
class Utf8Filter(CountingFilter):
    """Keeps files that decode as strict UTF-8 and sets their text; the raw bytes are released.

    Files in other encodings (Latin-1 test data, PEP 263 `coding:` files) are dropped rather than
    guessed at: a wrong guess would teach the model mojibake. A BOM is kept as U+FEFF so the text
    round-trips to the exact bytes."""

    name = "invalid_utf8"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(exclusion_writer=exclusion_writer)

    def __init__(self, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        try:
            if doc.media and doc.media[0].media_bytes is not None:
                doc.text = doc.media[0].media_bytes.decode("utf-8")
            else:  # record inputs: text already decoded; lone surrogates mean it was not UTF-8
                doc.text.encode("utf-8")
        except UnicodeError:
            return False, "invalid_utf8"
        doc.media = []
        return True
