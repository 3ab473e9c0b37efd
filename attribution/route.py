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
(6 % at min_len 64), so a 300-byte snippet tests ~17 keys a shard instead of a lookup per probe.

Hashes are polynomial over the bytes mod 2**64, computed for all grams at once by doubling (numpy
wraps on overflow), then mixed by splitmix64's finaliser so minima are not biased toward small
bytes; window minima come from a sparse table. The filter is rbloom's, keyed by the 64-bit anchor.
"""

from __future__ import annotations

import json
import mmap
import operator
from collections.abc import Iterable
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


def _window_minima(h: np.ndarray, w: int) -> np.ndarray:
    """Minimum of every w consecutive values (sparse table: O(n log w))."""
    if len(h) < w:
        return h[:0]
    p, m = 1, h
    while p * 2 <= w:
        m = np.minimum(m[:-p], m[p:])
        p *= 2
    return np.minimum(m[:len(h) - w + 1], m[w - p:])


def _minima_runs(arr: np.ndarray, k: int, w: int) -> np.ndarray:
    """Window minima of `arr`'s gram hashes, one per run (a minimum holds over many windows)."""
    if len(arr) < k + w - 1:
        return np.zeros(0, np.uint64)
    minima = _window_minima(_anchor_hashes(arr, k), w)
    runs = minima[np.concatenate(([True], minima[1:] != minima[:-1]))]
    return runs[runs != LOW]


def anchors(data: BytesLike | np.ndarray, k: int, w: int) -> np.ndarray:
    """The distinct winnowed anchors (uint64) of `data`; empty when it is shorter than k + w - 1."""
    arr = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    return np.unique(_minima_runs(arr, k, w))


def shard_anchors(blob: BytesLike, k: int, w: int) -> np.ndarray:
    """Anchors of a whole shard's byte stream, hashed in overlapping chunks (every window lies
    whole in one chunk, so no anchor is lost at a chunk edge)."""
    arr = np.frombuffer(blob, dtype=np.uint8)
    overlap = k + w - 2
    parts = [_minima_runs(arr[s:s + CHUNK + overlap], k, w) for s in range(0, max(len(arr) - overlap, 1), CHUNK)]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


_identity = operator.index  # keys are already hashes (a C identity: attribution.bloom)


def write_route(shard_dir: Path, blob: BytesLike, min_len: int, fpr: float) -> dict[str, int]:
    """Build and save a shard's anchor filter; returns its counts for the shard record."""
    k, w = params(min_len)
    keys = shard_anchors(blob, k, w)
    bloom = Bloom(max(len(keys), 1), fpr, _identity)
    bloom.update(keys.tolist())
    bloom.save(str(shard_dir / FILE_NAME))
    (shard_dir / PARAMS_NAME).write_text(json.dumps({"v": VERSION, "k": k, "w": w, "anchors": len(keys), "fpr": fpr}) + "\n")
    return {"route_anchors": len(keys)}


class Router:
    """Shards that may hold a span of min_len bytes of a snippet; a shard without a filter (built
    before filters existed) or with one for longer spans than min_len is always a candidate."""

    def __init__(self, shard_dirs: Iterable[Path], min_len: int):
        self.filters: list[tuple[Bloom, int, int] | None] = []
        for d in shard_dirs:
            try:
                p = json.loads((Path(d) / PARAMS_NAME).read_text())
                ok = p.get("v") == VERSION and p["k"] + p["w"] - 1 <= min_len
                self.filters.append((Bloom.load(str(Path(d) / FILE_NAME), _identity), p["k"], p["w"]) if ok else None)
            except (OSError, ValueError, KeyError):
                self.filters.append(None)
        self.k = params(min_len)[0]  # the matcher's probe length
        self.tested = 0  # anchor tests so far (the profile counts them)

    def candidates(self, data: bytes) -> list[int]:
        return list(self.probes(data))

    def probes(self, data: bytes) -> dict[int, list[tuple[int, int, int]] | None]:
        """Shard -> (offset, core start, core end) of the snippet's grams whose anchor the shard's
        filter holds and that are a window's leftmost minimum (snippet_anchors; None: a shard
        without a filter, to probe everywhere); shards holding none are left out. Every
        span of min_len bytes the shard shares with the snippet contains one of those grams, so
        they are the only probes that shard needs (attribution.spans), unless every window of
        the span is made of low-information grams (no anchor): such a span (indentation, a
        ruler of `#`) is not reported, as OLMoTrace keeps only informative spans (Liu et al.
        2025, its span unigram-probability filter); probing those windows on every shard was
        what made indented snippets cost a lookup grid on every shard (docs/attribution.md)."""
        arr = np.frombuffer(data, dtype=np.uint8)
        out: dict[int, list[int] | None] = {}
        cache: dict[tuple[int, int], tuple[np.ndarray, list[int], dict[int, tuple[int, int]]]] = {}
        for i, f in enumerate(self.filters):
            if f is None:
                out[i] = None
                continue
            bloom, k, w = f
            if (k, w) not in cache:
                cache[(k, w)] = snippet_anchors(arr, k, w)
            grams, keys, cores = cache[(k, w)]
            self.tested += len(keys)
            hits = [key for key in keys if key in bloom]
            if hits:  # grams of another length than the matcher's probes: probe everywhere
                out[i] = probe_offsets(grams, hits, cores) if k == self.k else None
        return out


def snippet_anchors(arr: np.ndarray, k: int, w: int) -> tuple[np.ndarray, list[int], dict[int, tuple[int, int]]]:
    """A snippet's gram hashes, its distinct anchors (windows made only of low-information
    grams have none), and the core of each gram that is the leftmost minimum of a window: the
    bytes [hi, lo + k + w - 1) that every window [j, j + k + w - 1) it is the minimum of covers
    (lo, hi: the first and last such j). A span of k + w - 1 bytes or more holds a whole window,
    hence that window's leftmost minimum gram and its core, so a shard holding no core of the
    snippet holds no span to report however many of its grams it holds."""
    if len(arr) < k + w - 1:
        return np.zeros(0, np.uint64), [], {}
    grams = _anchor_hashes(arr, k)
    minima = _window_minima(grams, w)
    starts = np.flatnonzero(minima != LOW)
    if not len(starts):  # every window made of low-information grams: no anchor
        return grams, [], {}
    argmin = np.lib.stride_tricks.sliding_window_view(grams, w)[starts].argmin(axis=1) + starts  # leftmost
    # The leftmost minimum never moves left as the window slides, so each gram's windows are one
    # run of `argmin`: its first and last places give lo and hi.
    grams_at, first = np.unique(argmin, return_index=True)
    last = np.append(first[1:], len(argmin)) - 1
    cores = dict(zip(grams_at.tolist(), zip(starts[last].tolist(), (starts[first] + k + w - 1).tolist())))
    return grams, np.unique(minima[starts]).tolist(), cores


def probe_offsets(grams: np.ndarray, hits: list[int], cores: dict[int, tuple[int, int]] | None = None
                  ) -> list[int] | list[tuple[int, int, int]]:
    """Probes for a shard holding the anchors `hits`: every gram hashing to one of them, or, given
    `cores`, (offset, core start, core end) of each such gram that is a window's leftmost minimum."""
    held = np.flatnonzero(np.isin(grams, np.array(hits, dtype=np.uint64))).tolist()
    return held if cores is None else [(p, *cores[p]) for p in held if p in cores]
