from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter
from data_pipeline.readers.languages import UNKNOWN, starcoder_languages


@register_filter(60)
class LanguageFilter(CountingFilter):
    """Keeps files whose `metadata.lang` (set by the reader from `languages.yaml`) is selected:
    StarCoder's languages by default. Files of no known language are `unknown_language`; known
    but unselected ones (XML, plain text, TOML...) `language_not_selected`."""

    name = "language"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        return cls(cfg.languages, exclusion_writer=exclusion_writer)

    def __init__(self, languages: Iterable[str] | None = None, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.languages = frozenset(languages if languages is not None else starcoder_languages())

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        lang = doc.metadata.get("lang", UNKNOWN)
        if lang in self.languages:
            return True
        return False, "unknown_language" if lang == UNKNOWN else "language_not_selected"
