"""Membership: a Bloom filter over strided character n-grams of every training file (Data
Portraits, Marone & Van Durme 2023), one filter per shard.

Training files store the n-grams starting at character offsets 0, stride, 2*stride, ...; a
query tests the n-gram at every offset of the snippet. Only one offset in `stride` lines up
with a stored n-gram, so "fraction of the snippet's n-grams seen" gives a verbatim snippet
~1/stride. The score is the best phase instead: the hit rate over offsets r, r+stride, ...,
maximised over r (measured on the stdlib: verbatim 1.0, unseen 0.01-0.02; FACTS: Attribution),
found per window of offsets and averaged, since each training file a long snippet spans has
its own phase.
N-grams with few distinct characters (`#####`, runs of spaces) are neither stored nor scored:
they occur everywhere and say nothing about provenance.

rbloom's default hash is Python's per-process `hash()`, which `save()` refuses; a saved filter
needs a fixed hash, here blake2b to a signed 128-bit int, computed before the filter sees the
item (its hash_func is the identity), so one snippet's n-grams are hashed once for all shards.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from hashlib import blake2b
from pathlib import Path

from rbloom import Bloom

from attribution.config import BloomConfig
from starforge.errors import AttributionError

FILE_NAME = "bloom.bin"


def stable_hash(ngram: str) -> int:
    return int.from_bytes(blake2b(ngram.encode("utf-8"), digest_size=16).digest(), "little", signed=True)


# The filters' hash_func: items are already `stable_hash` values (signed 128-bit ints), so it is
# the identity; `operator.index` is one in C, a third cheaper a test than a Python function (every
# snippet n-gram is tested against every shard's filter). Filters saved with either load with either.
_prehashed = operator.index


def count_ngrams(num_chars: int, cfg: BloomConfig) -> int:
    """Upper bound on the n-grams a file of `num_chars` characters stores (sizes the filter)."""
    return 0 if num_chars < cfg.ngram else (num_chars - cfg.ngram) // cfg.stride + 1


def is_repetitive(ngram: str, cfg: BloomConfig) -> bool:
    return len(set(ngram)) < cfg.min_distinct_chars


def training_ngrams(text: str, cfg: BloomConfig) -> Iterator[int]:
    """Hashes of the n-grams a training file stores: every `stride` characters."""
    n = cfg.ngram
    for i in range(0, len(text) - n + 1, cfg.stride):
        gram = text[i:i + n]
        if not is_repetitive(gram, cfg):
            yield stable_hash(gram)


class BloomWriter:
    def __init__(self, shard_dir: Path, expected_items: int, cfg: BloomConfig):
        self.path = shard_dir / FILE_NAME
        self.cfg = cfg
        self.filter = Bloom(max(expected_items, 1), cfg.fpr, _prehashed)
        self.added = 0

    def add(self, text: str) -> None:
        hashes = list(training_ngrams(text, self.cfg))
        self.added += len(hashes)
        self.filter.update(hashes)

    def finish(self) -> dict[str, int]:
        self.filter.save(str(self.path))
        return {"ngrams": self.added, "bloom_bits": self.filter.size_in_bits}


class Membership:
    """Best-phase n-gram hit rate of a snippet against the union of the shards' filters."""

    def __init__(self, shard_dirs: Sequence[Path], cfg: BloomConfig):
        self.cfg = cfg
        self.filters = []
        for d in shard_dirs:
            path = Path(d) / FILE_NAME
            try:
                self.filters.append(Bloom.load(str(path), _prehashed))
            except (OSError, ValueError) as exc:
                raise AttributionError(f"{path}: cannot load the Bloom filter ({exc}); "
                                       "rebuild with `starforge attribution index`") from None

    def score(self, snippet: str) -> float:
        """Best-phase hit rate per window of `score_window` offsets, averaged over windows
        (weighted by their scored n-grams): a long snippet copied from several training files,
        each with its own phase, still scores as seen."""
        n, stride, window = self.cfg.ngram, self.cfg.stride, self.cfg.score_window
        if not self.filters or len(snippet) < n:
            return 0.0
        seen = scored = 0.0
        starts = range(0, len(snippet) - n + 1, window)
        if len(starts) > self.cfg.max_score_windows:  # a huge snippet: evenly spaced windows
            step = len(starts) / self.cfg.max_score_windows
            starts = [starts[int(k * step)] for k in range(self.cfg.max_score_windows)]
        for w0 in starts:
            hits = [0] * stride
            totals = [0] * stride
            for i in range(w0, min(w0 + window, len(snippet) - n + 1)):
                gram = snippet[i:i + n]
                if is_repetitive(gram, self.cfg):
                    continue
                key = stable_hash(gram)
                r = i % stride
                totals[r] += 1
                if any(key in f for f in self.filters):
                    hits[r] += 1
            best = max(((h / t, t) for h, t in zip(hits, totals) if t), default=None)
            if best is not None:
                seen += best[0] * sum(totals)
                scored += sum(totals)
        return seen / scored if scored else 0.0
