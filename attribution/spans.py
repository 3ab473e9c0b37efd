"""Maximal matching spans of a snippet with O(log n) membership tests per span (OLMoTrace's spans).

`occurs(start, end)` answers whether snippet bytes [start, end) occur in training (one suffix-array
`find`). One probe of h = min_len/2 bytes every h bytes (every span of min_len bytes contains
one); a probe that occurs is grown left by bisection and right by galloping, so a snippet of n
bytes costs about n/h probes plus O(log span) tests per span found, each test O(log corpus)
bisection steps: the snippet and the number of spans set the cost, not the corpus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


def maximal_spans(occurs: Callable[[int, int], bool], n: int, min_len: int, max_spans: int,
                  probes: Sequence[int] | Sequence[tuple[int, int, int]] | None = None) -> list[tuple[int, int]]:
    """(start, end) of the maximal spans found, in snippet order (some may be under min_len).

    `probes`: sorted start offsets of the h-byte probes; by default one every h bytes. Any list
    such that every span to find contains a probe will do (attribution.route gives the anchors
    a shard's filter holds: every span of min_len bytes in that shard contains one of them).
    A probe given as (offset, core start, core end) is kept only when its core occurs: one
    lookup of 32-64 bytes that every span to find through it holds (route.snippet_anchors),
    so a shard holding a common 32-byte gram but no span of min_len costs no growing."""
    h = max(1, min_len // 2)
    known: set[int] = set()  # probes whose gram is known to occur (inside an occurring core)
    if probes is None:
        points = list(range(0, n - h + 1, h))
    elif probes and isinstance(probes[0], tuple):
        points = [p for p, start, end in probes if 0 <= p <= n - h and occurs(start, end)]  # type: ignore[misc]
        known = set(points)
    else:
        points = [p for p in probes if 0 <= p <= n - h]  # type: ignore[operator]
    found: list[tuple[int, int]] = []
    a, b = -1, -1  # last maximal span found
    for i, p in enumerate(points):
        if len(found) >= max_spans:
            log.debug("snippet has over %d maximal spans; reporting those found", max_spans)
            break
        prev = points[i - 1] if i else -1
        nxt = points[i + 1] if i + 1 < len(points) else None
        if b < p + h:
            if p not in known and not occurs(p, p + h):
                continue
            # A span holding this probe and starting at or before the previous one holds that
            # one too: it was found then.
            a = _leftmost(occurs, max(a, prev), p, p + h)
            b = _gallop(occurs, n, a, p + h)
            found.append((a, b))
        # Other maximal spans covering this probe start after a and end after b. Any such
        # span also covers the next probe when [a, b) does, so only the last such probe looks:
        # checking each probe made a long verbatim snippet quadratic (43 s for 1 MB).
        while (b < n and len(found) < max_spans and not (nxt is not None and b >= nxt + h)
               and occurs(p, b + 1)):
            a = _leftmost(occurs, a, p, b + 1)
            b = _gallop(occurs, n, a, b + 1)
            found.append((a, b))
    return found


def _leftmost(occurs: Callable[[int, int], bool], lo: int, hi: int, end: int) -> int:
    """Smallest x in (lo, hi] with data[x:end] in training; data[hi:end] is known to occur."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if occurs(mid, end):
            hi = mid
        else:
            lo = mid
    return hi


def _gallop(occurs: Callable[[int, int], bool], n: int, start: int, end: int) -> int:
    """Largest e >= end with data[start:e] in training; data[start:end] is known to occur."""
    good, step = end, 64
    bad = n + 1
    while good < n:
        probe = min(good + step, n)
        if occurs(start, probe):
            good = probe
            step *= 2
        else:
            bad = probe
            break
    while bad - good > 1:
        mid = (good + bad) // 2
        if occurs(start, mid):
            good = mid
        else:
            bad = mid
    return good
