"""Ranked full-text search (BM25) over training files with tantivy, one index per shard.

Code-aware tokens: every identifier is kept whole (`get_doc_by_ptr`, `HTTPServer`) and also
split on underscores and case changes (`get`, `doc`, `by`, `ptr`; `http`, `server`), all
lowercased; parts shorter than two characters are dropped. Tokenising happens here, in Python,
and the index uses tantivy's `whitespace` tokenizer, because a tokenizer registered with
`register_tokenizer` is not saved with the index, tantivy's default splits on `_` but not on
case and drops tokens over 40 bytes (FACTS: Attribution). Queries are built as term queries,
never parsed, so raw code, quotes and `AND`/`OR` cannot break them.

Scores of different shards use each shard's own document frequencies; merged lists are close
to, not exactly, one global BM25 ranking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import tantivy

from attribution.config import SearchConfig
from starforge.errors import AttributionError

DIR_NAME = "search"
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
# camelCase / PascalCase / ACRONYMWord parts: "HTTPServerV2" -> HTTP, Server, V2
PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def code_tokens(text: str) -> Iterator[str]:
    for match in IDENT.finditer(text):
        word = match.group()
        yield word.lower()
        if word.isdigit():
            continue
        parts = [p.lower() for chunk in word.split("_") for p in PART.findall(chunk)]
        if len(parts) > 1 or (parts and parts[0] != word.lower()):
            for part in parts:
                if len(part) > 1:
                    yield part


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("doc", stored=True, indexed=False, fast=False)
    sb.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    return sb.build()


class SearchWriter:
    def __init__(self, shard_dir: Path, cfg: SearchConfig):
        path = shard_dir / DIR_NAME
        path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(_schema(), path=str(path))
        self.writer = self.index.writer(heap_size=cfg.heap_mb * 1_000_000, num_threads=1)
        self.count = 0

    def add(self, text: str) -> None:
        self.writer.add_document(tantivy.Document(doc=self.count, body=" ".join(code_tokens(text))))
        self.count += 1

    def finish(self) -> dict[str, int]:
        self.writer.commit()
        self.writer.wait_merging_threads()
        return {"search_docs": self.count}


class Searcher:
    """BM25 over all shards' indexes; hits are (score, shard, doc), best first."""

    def __init__(self, shard_dirs: Sequence[Path], cfg: SearchConfig):
        self.cfg = cfg
        self.schema = _schema()
        self.searchers = []
        for d in shard_dirs:
            path = Path(d) / DIR_NAME
            try:
                index = tantivy.Index.open(str(path))
            except (OSError, ValueError) as exc:
                raise AttributionError(f"{path}: cannot open the search index ({exc}); "
                                       "rebuild with `starforge attribution index`") from None
            self.searchers.append(index.searcher())

    def query_terms(self, snippet: str) -> list[str]:
        """The first max_query_terms distinct tokens (stops early on a huge snippet)."""
        terms: dict[str, None] = {}
        for token in code_tokens(snippet):
            terms[token] = None
            if len(terms) >= self.cfg.max_query_terms:
                break
        return list(terms)

    def search(self, snippet: str, top_k: int | None = None) -> list[tuple[float, int, int]]:
        terms = self.query_terms(snippet)
        if not terms:
            return []
        k = top_k or self.cfg.top_k
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t)) for t in terms])
        hits = []
        for shard, searcher in enumerate(self.searchers):
            for score, addr in searcher.search(query, k).hits:
                hits.append((float(score), shard, int(searcher.doc(addr)["doc"][0])))
        hits.sort(key=lambda h: (-h[0], h[1], h[2]))
        return hits[:k]


def window_words(snippet: str, limit: int = 4) -> list[bytes]:
    """The snippet's longest distinct identifiers (long ones are rare ones), to place a hit's lines."""
    words = {m.group() for m in IDENT.finditer(snippet) if len(m.group()) >= 3 and not m.group().isdigit()}
    return [w.encode() for w in sorted(words, key=lambda w: (-len(w), w))[:limit]]


def best_window(data: bytes, line_starts: np.ndarray, words: list[bytes], num_lines: int,
                max_hits: int = 64) -> tuple[int, int]:
    """1-based inclusive lines of the `num_lines`-line window of a file (`data`, its line start
    offsets) holding most occurrences of `words`. bytes.find in C, not a tokeniser in Python:
    tokenising every line of ten long files cost ~30 ms a query. A word found more than
    `max_hits` times in the file is too common to place a window and is left out (the search
    for it stops there): following every hit of such words was 70% of a whole check (profile in
    docs/attribution.md)."""
    total = len(line_starts)
    if total == 0:
        return 1, 1
    positions: list[int] = []
    for word in words:  # one pass, stopped at the first hit past max_hits (count + find made two)
        found: list[int] = []
        pos = data.find(word)
        while pos >= 0 and len(found) <= max_hits:
            found.append(pos)
            pos = data.find(word, pos + len(word))
        if len(found) <= max_hits:
            positions.extend(found)
    width = max(1, min(num_lines, total))
    if not positions:
        return 1, width
    lines = np.searchsorted(line_starts, np.array(positions, dtype=np.uint64), side="right") - 1
    hits = np.bincount(lines.astype(np.int64), minlength=total)
    sums = np.convolve(hits, np.ones(width, dtype=np.int64), mode="valid")
    start = int(np.argmax(sums))
    return start + 1, start + width
