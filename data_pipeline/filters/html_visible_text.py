from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_pipeline.filters.base import CountingFilter
from data_pipeline.filters.registry import register_filter

_INVISIBLE = frozenset({"script", "style", "head", "title", "meta", "noscript", "template", "svg"})


class _VisibleText(HTMLParser):
    """Counts the characters a browser would show (text outside script/style/head), stripped."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.chars = 0

    def handle_starttag(self, tag, attrs):
        if tag in _INVISIBLE:
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in _INVISIBLE and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.chars += len(" ".join(data.split()))


def visible_chars(html: str) -> int:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.chars


@register_filter(140)
class HtmlVisibleTextFilter(CountingFilter):
    """StarCoder's HTML filter (section 3.3): keep HTML files whose visible text is at least 20%
    of the file and at least 100 characters; others are boilerplate, templates or data. Only
    files of language HTML are checked."""

    name = "html_visible_text"

    @classmethod
    def from_config(cls, cfg: Any, exclusion_writer: DiskWriter | None):
        q = cfg.quality
        if q.html_min_visible_fraction is None:
            return None
        return cls(q.html_min_visible_fraction, q.html_min_visible_chars, exclusion_writer=exclusion_writer)

    def __init__(self, min_fraction: float = 0.2, min_chars: int = 100, exclusion_writer: DiskWriter | None = None):
        super().__init__(exclusion_writer)
        self.min_fraction = min_fraction
        self.min_chars = min_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.metadata.get("lang") != "HTML" or not doc.text:
            return True
        chars = visible_chars(doc.text)
        if chars < self.min_chars or chars / len(doc.text) < self.min_fraction:
            return False, "html_visible_text"
        return True
