"""Maximal matching spans of a snippet in one shard, from its anchor suffix array (OLMoTrace's spans).

Every span the matcher reports is at least min_len = k + w - 1 bytes, so it holds a whole window
of w grams, and that window's leftmost minimum gram (attribution.route) sits at the same offset
from the span's start in the snippet and in every training copy: the choice depends only on the
window's bytes. So every copy passes through an anchor of the shard, and the shard's suffix array
need only sort the suffixes starting at anchors (attribution.tables).

A shard's spans: for each snippet anchor q whose hash the shard's filter holds, one lookup finds
the anchors of the shard followed by q's core (the bytes every window choosing q covers); each
such occurrence is extended both ways by comparing bytes, in numpy over all occurrences at once,
and gives the maximal interval [q - left, q + right) that copy shares with the snippet. The
maximal spans are the intervals no other one contains. The cost is one lookup per held anchor
(~17 for 300 bytes, O(log n) bisection steps each) plus the bytes compared, set by the snippet
and its matches, not the corpus. A span's count is exact: every copy of it passes through the
anchor of its first window, so one more lookup and a check of the bytes before that anchor count
them (`occurrences`).
"""

from __future__ import annotations

import numpy as np

from attribution.tables import ShardTables

_BLOCK = 32  # bytes compared at first when extending; doubles while every copy still matches
_GATHER = 1 << 21  # bytes gathered at once when counting


def match_lengths(text: np.ndarray, base: np.ndarray, pattern: np.ndarray, done: int, step: int) -> np.ndarray:
    """For each base offset, how many bytes of `pattern` match text[base + step * j] for j = 0, 1,
    ... (step 1 reads forward, -1 backward); the first `done` are known to match. Rows still
    matching go on in blocks that double, so a long shared span costs O(log) gathers."""
    lens = np.full(len(base), done, dtype=np.int64)
    alive = np.arange(len(base))
    j, block, n, size = done, _BLOCK, len(pattern), len(text)
    while len(alive) and j < n:
        b = min(block, n - j)
        idx = base[alive, None] + step * (j + np.arange(b))
        eq = (idx >= 0) & (idx < size) & (text[np.clip(idx, 0, size - 1)] == pattern[j:j + b])
        full = eq.all(axis=1)
        lens[alive] = j + np.where(full, b, eq.argmin(axis=1))
        alive = alive[full]
        j += b
        block *= 2
    return lens


def shard_spans(tables: ShardTables, data: bytes, probes: list[tuple[int, int, int]], min_len: int,
                scan_cap: int) -> tuple[int, list[tuple[int, int]], bool]:
    """(lookups made, maximal spans (start, end) of at least min_len bytes in snippet order,
    whether some anchor had over scan_cap occurrences and was sampled) of `data` in one shard.
    `probes`: (anchor offset, core start, core end), as attribution.route gives them."""
    arr = np.frombuffer(data, dtype=np.uint8)
    text = tables.text
    found: set[tuple[int, int]] = set()
    lookups, sampled = 0, False
    for q, core_start, core_end in probes:
        lo, hi = tables.find(data[q:core_end])
        lookups += 1
        if hi == lo:
            continue
        if hi - lo > scan_cap:
            # The copies with the longest right extension sort next to where the rest of the
            # snippet would: take those, and an even sample of the others.
            sampled = True
            at = tables.find(data[q:], lo, hi)[0]
            lookups += 1
            half = scan_cap // 2
            quarter = max(1, half // 2)
            near = np.arange(max(lo, at - quarter), min(hi, at + quarter))
            ranks = np.unique(np.concatenate([near, np.linspace(lo, hi - 1, half).round().astype(np.int64)]))
        else:
            ranks = np.arange(lo, hi)
        ptrs = tables.ptrs(ranks).astype(np.int64)
        left = match_lengths(text, ptrs - 1, arr[:q][::-1], 0, -1)
        keep = left >= q - core_start
        if not keep.any():
            continue
        ptrs, left = ptrs[keep], left[keep]
        right = match_lengths(text, ptrs, arr[q:], core_end - q, 1)
        found.update((s, e) for s, e in zip((q - left).tolist(), (q + right).tolist()) if e - s >= min_len)
    return lookups, maximal(found), sampled


def maximal(intervals: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The intervals no other one contains, by start."""
    out: list[tuple[int, int]] = []
    reach = -1
    for s, e in sorted(intervals, key=lambda iv: (iv[0], -iv[1])):
        if e > reach:
            out.append((s, e))
            reach = e
    return out


def occurrences(tables: ShardTables, data: bytes, start: int, end: int, anchor: int, sample: int
                ) -> tuple[int, np.ndarray]:
    """(count, text offsets of up to `sample` copies evenly spread in suffix order) of snippet
    bytes [start, end) in one shard, through `anchor`, the anchor all copies pass through
    (route.Anchored.anchor_of): the anchors followed by data[anchor:end] whose anchor - start
    bytes before match data[start:anchor]. Exact whatever the count; a span seen 10**5 times
    costs one pass over its ranks in chunks."""
    lo, hi = tables.find(data[anchor:end])
    lead = anchor - start
    if hi == lo or lead == 0:
        picks = np.unique(np.linspace(lo, hi - 1, min(hi - lo, sample)).round().astype(np.int64))
        return hi - lo, tables.ptrs(picks).astype(np.int64) if hi > lo else np.zeros(0, np.int64)
    before = np.frombuffer(data, dtype=np.uint8)[start:anchor]
    chunk = max(1024, _GATHER // lead)
    count, kept = 0, []
    for c in range(lo, hi, chunk):
        ptrs = tables.ptrs(np.arange(c, min(c + chunk, hi))).astype(np.int64)
        ok = match_lengths(tables.text, ptrs - 1, before[::-1], 0, -1) == lead
        count += int(ok.sum())
        kept.append(ptrs[ok] - lead)
    starts = np.concatenate(kept)
    if len(starts) > sample:
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, sample).round().astype(np.int64))]
    return count, starts
