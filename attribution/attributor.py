"""The query API: `Attributor(index_dir).check(snippet)`, used by the CLI, `eval` and the demo.

    with Attributor("runs/demo/attribution") as att:
        result = att.check(generated_code)
    result["membership"]         # 0..1, best-phase share of the snippet's n-grams seen in training
    result["exact"][0]["path"]   # training file holding the snippet's longest verbatim span
    result["search"][0]["score"] # BM25 score of the most similar training file

Every list is best first; paths are as in the input; lines are 1-based and inclusive;
`snippet_start`/`snippet_end` are character offsets into the snippet ([start, end)), `length`
is the span's size in UTF-8 bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attribution.bloom import Membership
from attribution.config import AttributionConfig
from attribution.exact import ExactMatcher
from attribution.index import read_manifest
from attribution.search import Searcher, best_window, window_words
from starforge.config import from_dict, read_yaml
from starforge.errors import AttributionError, ConfigError

EXCERPT_CHARS = 2000


class Attributor:
    def __init__(self, index_dir: str | Path):
        self.index_dir = Path(index_dir)
        manifest = read_manifest(self.index_dir)
        try:
            self.cfg = from_dict(AttributionConfig, read_yaml(self.index_dir / "config.yaml"),
                                 where=str(self.index_dir / "config.yaml"))
        except ConfigError as exc:
            raise AttributionError(f"{exc}; rebuild the index with `starforge attribution index`") from None
        shard_dirs = [self.index_dir / "shards" / s["name"] for s in manifest["shards"] if s["docs"] > 0]
        self.docs: list[list[dict[str, str]]] = []
        for d in shard_dirs:
            try:
                with (d / "docs.jsonl").open(encoding="utf-8") as fh:
                    self.docs.append([json.loads(line) for line in fh])
            except (OSError, ValueError) as exc:
                raise AttributionError(f"{d / 'docs.jsonl'}: unreadable ({exc}); "
                                       "rebuild with `starforge attribution index`") from None
        self.matcher = ExactMatcher(shard_dirs, self.cfg.exact)
        self.membership = Membership(shard_dirs, self.cfg.bloom)
        self.searcher = Searcher(shard_dirs, self.cfg.search)
        self.num_docs = sum(len(d) for d in self.docs)

    def __enter__(self) -> Attributor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.matcher.close()

    def check(self, snippet: str, top_k: int | None = None) -> dict[str, Any]:
        if not isinstance(snippet, str):
            raise AttributionError(f"snippet must be text, got {type(snippet).__name__}")
        data = snippet.encode("utf-8", errors="replace")
        if not snippet.strip():
            raise AttributionError("empty snippet; pass the code to check as an argument or with --file")
        if len(data) > self.cfg.exact.max_snippet_bytes:
            raise AttributionError(f"snippet is {len(data):,} bytes, over exact.max_snippet_bytes="
                                   f"{self.cfg.exact.max_snippet_bytes:,}; check a smaller part")
        exact, exact_lines = self._exact(data)
        return {"membership": round(self.membership.score(snippet), 4),
                "exact": exact,
                "search": self._search(snippet, top_k, exact_lines)}

    def _exact(self, data: bytes) -> tuple[list[dict[str, Any]], dict[tuple[int, int], tuple[int, int]]]:
        results = []
        lines: dict[tuple[int, int], tuple[int, int]] = {}
        for span in self.matcher.spans(data):
            start_char = len(data[:span.start].decode("utf-8", errors="ignore"))
            end_char = len(data[:span.end].decode("utf-8", errors="ignore"))
            for loc in self.matcher.locations(span, data):
                meta = self.docs[loc.shard][loc.doc]
                results.append({
                    "path": meta["path"], "repo": meta["repo"], "licence": meta["licence"], "id": meta["id"],
                    "start_line": loc.start_line, "end_line": loc.end_line,
                    "length": span.end - span.start, "count": span.count,
                    "snippet_start": start_char, "snippet_end": end_char,
                    "excerpt": self._lines(loc.shard, loc.doc, loc.start_line, loc.end_line),
                })
                old = lines.get((loc.shard, loc.doc), (loc.start_line, loc.end_line))
                lines[(loc.shard, loc.doc)] = (min(old[0], loc.start_line), max(old[1], loc.end_line))
        return results, lines

    def _search(self, snippet: str, top_k: int | None,
                exact_lines: dict[tuple[int, int], tuple[int, int]]) -> list[dict[str, Any]]:
        """BM25 hits; the line span is that of the exact matches in the file, else the window of
        the snippet's height sharing most tokens with it."""
        words = window_words(snippet)
        num_lines = snippet.strip("\n").count("\n") + 1
        results = []
        for score, shard, doc in self.searcher.search(snippet, top_k):
            meta = self.docs[shard][doc]
            tables = self.matcher.tables[shard]
            spans = exact_lines.get((shard, doc))
            start, end = spans if spans else best_window(tables.doc_bytes(doc), tables.line_starts(doc), words, num_lines)
            results.append({
                "path": meta["path"], "repo": meta["repo"], "licence": meta["licence"], "id": meta["id"],
                "score": round(score, 4), "start_line": start, "end_line": end,
                "excerpt": _cut(tables.lines_text(doc, start, end)),
            })
        return results

    def _lines(self, shard: int, doc: int, start: int, end: int) -> str:
        return _cut(self.matcher.tables[shard].lines_text(doc, start, end))


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
