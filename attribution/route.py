"""Which shards can hold a snippet's verbatim spans: a Bloom filter of winnowed k-gram anchors per shard.

A query fans out over every shard, and each shard costs suffix-array lookups even when it holds
nothing of the snippet, so with many shards the fixed cost per shard dominates (docs/attribution.md,
"Shards"). Winnowing (Schleimer, Wilkerson & Aiken, SIGMOD 2003, the fingerprints of MOSS) picks
anchors from content alone: hash every k-byte gram, and keep the minimum hash of every window of w
consecutive grams. Two texts sharing a span of at least k + w - 1 bytes share a window, hence its
minimum: a shard whose filter holds none of a snippet's anchors holds no span of that length, and
is skipped with no lookup (a Bloom filter has no false negatives; a false positive only costs the
lookups skipping would have saved). With k = min_len // 2 and w = min_len - k + 1, every span the
matcher reports (>= min_len bytes) is covered. About 2 / (w + 1) of a text's positions are anchors
(6 % at min_len 64), so a 300-byte snippet tests ~17 keys a shard. The same anchors, by position,
are the only suffixes a shard's suffix array sorts (attribution.tables, attribution.spans).

Hashes are polynomial over the bytes mod 2**64, computed for all grams at once by doubling (numpy
wraps on overflow), then mixed by splitmix64's finaliser so minima are not biased toward small
bytes; each window's leftmost minimum comes from a sparse table of offsets (window_argmin). The filter is rbloom's, keyed by the 64-bit anchor.
"""

from __future__ import annotations

import json
import mmap
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rbloom import Bloom

FILE_NAME = "route.bin"
PARAMS_NAME = "route.json"
CHUNK = 1 << 18  # bytes hashed at once while building (its uint64 arrays stay in cache: 2x faster than 4 MB)
BytesLike = bytes | bytearray | memoryview | mmap.mmap
_P = np.uint64(0x100000001B3)  # the FNV-1 64-bit prime, as the polynomial base
LOW = np.uint64(2 ** 64 - 1)  # the hash of a gram of little information: never an anchor
MIN_CHANGES = 8  # a 32-byte gram of indentation has 1 or 2
VERSION = 2  # 1 (no LOW grams) anchored indentation, which every shard holds


def params(min_len: int) -> tuple[int, int]:
    """(k, w) covering every span of min_len bytes: k + w - 1 == min_len."""
    k = max(1, min_len // 2)
    return k, min_len - k + 1


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (Steele, Lea & Flood 2014), elementwise."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _gram_hashes(data: np.ndarray, k: int) -> np.ndarray:
    """Hash of every k-byte gram of `data` (uint8): len(data) - k + 1 values."""
    acc: np.ndarray | None = None  # hash of grams of length `done`
    done = 0
    part = data.astype(np.uint64)  # hash of grams of length `span`
    span, mult = 1, _P  # mult = P ** span
    with np.errstate(over="ignore"):
        while True:
            if k & span:
                if acc is None:
                    acc = part
                else:  # append a gram of length span after one of length done
                    n = len(part) - done
                    acc = acc[:n] * mult + part[done:done + n]
                done += span
            if span * 2 > k:
                break
            part = part[:-span] * mult + part[span:]
            mult = mult * mult
            span *= 2
        assert acc is not None and done == k
        return _mix(acc[:len(data) - k + 1])


def _anchor_hashes(data: np.ndarray, k: int) -> np.ndarray:
    """Gram hashes, with LOW for a gram of little information (fewer than MIN_CHANGES places
    where a byte differs from the next: indentation, runs of one character), so such a gram is
    a window's minimum only when the whole window is made of them."""
    h = _gram_hashes(data, k)
    changes = np.concatenate(([0], np.cumsum(data[1:] != data[:-1], dtype=np.int64)))
    h[(changes[k - 1:] - changes[:len(h)]) < MIN_CHANGES] = LOW
    return h


def window_argmin(h: np.ndarray, w: int) -> np.ndarray:
    """Offset of the leftmost minimum of every w consecutive values (a sparse table of offsets:
    O(n log w)). The choice depends only on the window's values, so the same bytes pick the same
    gram in a snippet and in every training copy (what the anchor suffix array relies on)."""
    if len(h) < w:
        return np.zeros(0, np.int64)
    p, m = 1, np.arange(len(h), dtype=np.int64)
    while p * 2 <= w:
        a, b = m[:-p], m[p:]
        m = np.where(h[b] < h[a], b, a)  # ties keep the left one
        p *= 2
    a, b = m[:len(h) - w + 1], m[w - p:]
    return np.where(h[b] < h[a], b, a)


def _anchored(arr: np.ndarray, k: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Gram hashes of `arr` and each window's leftmost minimum (-1 where every gram of the
    window is of low information: such a window has no anchor)."""
    if len(arr) < k + w - 1:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    h = _anchor_hashes(arr, k)
    at = window_argmin(h, w)
    at[h[at] == LOW] = -1
    return h, at


def _minima_runs(arr: np.ndarray, k: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor offsets of `arr` (distinct, ascending: a minimum holds over many windows) and their hashes."""
    h, at = _anchored(arr, k, w)
    pos = np.unique(at[at >= 0])
    return pos, h[pos]


def anchors(data: BytesLike | np.ndarray, k: int, w: int) -> np.ndarray:
    """The distinct winnowed anchors (uint64) of `data`; empty when it is shorter than k + w - 1."""
    arr = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    return np.unique(_minima_runs(arr, k, w)[1])


def shard_anchors(blob: BytesLike, k: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct anchors, anchor positions) of a whole shard's byte stream, hashed in overlapping
    chunks (every window lies whole in one chunk, so no anchor is lost at a chunk edge). The
    positions, ascending, are the suffixes the shard's anchor suffix array sorts (attribution.tables)."""
    arr = np.frombuffer(blob, dtype=np.uint8)
    overlap = k + w - 2
    pos, keys = [], []
    for s in range(0, max(len(arr) - overlap, 1), CHUNK):
        p, h = _minima_runs(arr[s:s + CHUNK + overlap], k, w)
        pos.append(p + s)
        keys.append(h)
    if not pos:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return np.unique(np.concatenate(keys)), np.unique(np.concatenate(pos))


_identity = operator.index  # keys are already hashes (a C identity: attribution.bloom)


def write_route(shard_dir: Path, keys: np.ndarray, min_len: int, fpr: float) -> dict[str, int]:
    """Save a shard's anchor filter of the anchors `keys` (shard_anchors); returns its counts for the shard record."""
    k, w = params(min_len)
    bloom = Bloom(max(len(keys), 1), fpr, _identity)
    bloom.update(keys.tolist())
    bloom.save(str(shard_dir / FILE_NAME))
    (shard_dir / PARAMS_NAME).write_text(json.dumps({"v": VERSION, "k": k, "w": w, "anchors": len(keys), "fpr": fpr}) + "\n")
    return {"route_anchors": len(keys)}


class Router:
    """Shards that may hold a span of min_len bytes of a snippet, by their anchor filters; a shard
    whose filter is missing or was made for other (k, w) is always a candidate."""

    def __init__(self, shard_dirs: Iterable[Path], k: int, w: int):
        self.k, self.w = k, w
        self.filters: list[Bloom | None] = []
        for d in shard_dirs:
            try:
                p = json.loads((Path(d) / PARAMS_NAME).read_text())
                ok = p.get("v") == VERSION and (p["k"], p["w"]) == (k, w)
                self.filters.append(Bloom.load(str(Path(d) / FILE_NAME), _identity) if ok else None)
            except (OSError, ValueError, KeyError):
                self.filters.append(None)
        self.tested = 0  # anchor tests so far (the profile counts them)

    def candidates(self, data: bytes) -> list[int]:
        return list(self.probes(snippet_anchors(np.frombuffer(data, dtype=np.uint8), self.k, self.w)))

    def probes(self, snip: Anchored) -> dict[int, list[tuple[int, int, int]]]:
        """Shard -> (offset, core start, core end) of the snippet's anchors, leftmost minima of
        its windows, whose hash the shard's filter holds (all of them for a shard without a
        filter); shards holding none are left out. Every span of min_len bytes the shard shares
        with the snippet passes through one of them in every copy (attribution.spans), unless
        every window of the span is made of low-information grams (no anchor): such a span
        (indentation, a ruler of `#`) is not reported, as OLMoTrace keeps only informative spans
        (Liu et al. 2025, its span unigram-probability filter); probing those windows on every
        shard was what made indented snippets cost lookups on every shard (docs/attribution.md)."""
        out: dict[int, list[tuple[int, int, int]]] = {}
        if not snip.keys:
            return out
        every = [(p, *core) for p, core in snip.cores.items()]
        for i, bloom in enumerate(self.filters):
            if bloom is None:
                out[i] = every
                continue
            self.tested += len(snip.keys)
            hits = [key for key in snip.keys if key in bloom]
            if hits:
                out[i] = probe_offsets(snip, hits)
        return out


@dataclass
class Anchored:
    """A snippet's winnowing: gram hashes, each window's leftmost minimum (-1: a window made only
    of low-information grams, with no anchor), the distinct anchors, and the core of each gram
    that is some window's leftmost minimum (snippet_anchors)."""
    grams: np.ndarray
    at: np.ndarray
    keys: list[int]
    cores: dict[int, tuple[int, int]]
    k: int
    w: int

    def anchor_of(self, start: int, end: int) -> int | None:
        """The anchor every copy of snippet bytes [start, end) passes through: the leftmost
        minimum of the first window inside it that has one (None: no such window)."""
        windows = self.at[start:max(start, end - self.k - self.w + 2)]
        held = windows[windows >= 0]
        return int(held[0]) if len(held) else None


def snippet_anchors(arr: np.ndarray, k: int, w: int) -> Anchored:
    """A snippet's winnowing (Anchored). The core of a gram that is the leftmost minimum of the
    windows [j, j + k + w - 1) for j in lo..hi is the bytes [hi, lo + k + w - 1) that all of them
    cover. A span of k + w - 1 bytes or more holds a whole window, hence that window's leftmost
    minimum gram and its core, so a shard holding no core of the snippet holds no span to report
    however many of its grams it holds."""
    grams, at = _anchored(arr, k, w)
    starts = np.flatnonzero(at >= 0)
    if not len(starts):  # every window made of low-information grams (or none): no anchor
        return Anchored(grams, at, [], {}, k, w)
    argmin = at[starts]
    # The leftmost minimum never moves left as the window slides, so each gram's windows are one
    # run of `argmin`: its first and last places give lo and hi.
    grams_at, first = np.unique(argmin, return_index=True)
    last = np.append(first[1:], len(argmin)) - 1
    cores = dict(zip(grams_at.tolist(), zip(starts[last].tolist(), (starts[first] + k + w - 1).tolist())))
    return Anchored(grams, at, np.unique(grams[grams_at]).tolist(), cores, k, w)


def probe_offsets(snip: Anchored, hits: list[int]) -> list[tuple[int, int, int]]:
    """(offset, core start, core end) of each of the snippet's anchors hashing to one of `hits`."""
    held = set(hits)
    return [(p, *core) for p, core in snip.cores.items() if int(snip.grams[p]) in held]
