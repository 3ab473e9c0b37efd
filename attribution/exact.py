"""Exact-match location on an anchor suffix array of a shard's bytes.

A shard's files are written as raw UTF-8, each preceded by the 0xff document separator (a byte
UTF-8 never uses, so no match crosses two files), in infini-gram's own layout, then its suffix
array is filtered to the winnowing anchors:

    tokenized.0   b"\\xff" + file bytes, for every file
    offset.0      uint64 offset of each file's separator in tokenized.0
    anchors.0     the suffix array of the anchor positions only (attribution.tables): infini-gram's
                  bundled indexer (`build_sa`) sorts every suffix, and the anchors are kept in order
    anchors.json  the winnowing (k, w) the anchors were chosen with, and their count
    lines.npy     absolute offset of every line start, all files in order (uint32 below 4 GiB)
    doc_lines.npy index into lines.npy of each file's first line

so a match offset maps to a file by bisecting offset.0 and to a 1-based line by bisecting that
file's own slice of lines.npy (attribution.tables). For a snippet we report its maximal matching
spans as OLMoTrace does (spans that occur verbatim and cannot be extended either way, of at least
min_len bytes): first the whole snippet (a verbatim copy, the common case, ends there), else one
lookup per snippet anchor the shard holds, its copies extended by comparing bytes
(attribution.spans). Each lookup is a binary search of the anchor suffix array, O(log n) steps,
so a query's cost is set by the snippet and the places it lists, not by the corpus; a span seen
thousands of times lists a bounded sample of its places with the exact count. Only the shards
whose anchor filter may hold a span are searched (attribution.route), and their spans merged.
infini-gram's own `attribute` and `creativity` start a thread per snippet offset (~70 ms for 300
bytes even on a 48 KB index), and `attribute` drops any span seen more than `max_cnt` times (a
common licence header) outright. Where the time went, and why: docs/attribution.md, "Profile".
"""

from __future__ import annotations

import json
import logging
import mmap
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attribution.config import ExactConfig
from attribution.route import Router, params, shard_anchors, snippet_anchors
from attribution.spans import occurrences, shard_spans
from attribution.tables import ANCHORS_FILE, DOC_SEP, ShardTables, write_anchor_array, write_prefix_bounds
from starforge.errors import AttributionError

log = logging.getLogger(__name__)

ANCHORS_PARAMS = "anchors.json"
ANCHORS_VERSION = 1
EXACT_FILES = ("tokenized.0", "offset.0", ANCHORS_FILE, ANCHORS_PARAMS, "lines.npy", "doc_lines.npy")


class ExactWriter:
    """Writes one shard's byte stream and side tables; `finish()` builds the anchor suffix array
    and leaves the shard's anchor hashes in `anchor_keys` for its filter (attribution.route)."""

    def __init__(self, shard_dir: Path, cfg: ExactConfig):
        self.dir = shard_dir
        self.cfg = cfg
        self._data = (shard_dir / "tokenized.0").open("wb")
        self._offsets: list[int] = []
        self._lines: list[np.ndarray] = []
        self._doc_lines: list[int] = []
        self._pos = 0
        self._num_lines = 0
        self.anchor_keys = np.zeros(0, np.uint64)

    def add(self, data: bytes) -> None:
        self._offsets.append(self._pos)
        start = self._pos + len(DOC_SEP)
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
        starts = np.concatenate(([0], newlines[newlines < len(data)])).astype(np.uint64) + start
        self._doc_lines.append(self._num_lines)
        self._lines.append(starts)
        self._num_lines += len(starts)
        self._data.write(DOC_SEP)
        self._data.write(data)
        self._pos = start + len(data)

    def close(self) -> None:
        self._data.close()

    def finish(self) -> dict[str, float]:
        self._data.close()
        np.array(self._offsets, dtype=np.uint64).tofile(self.dir / "offset.0")
        # 4 bytes a line start below 4 GiB a shard (a tenth of a byte per corpus byte saved).
        dtype = np.uint32 if self._pos < 2 ** 32 else np.uint64
        np.save(self.dir / "lines.npy", np.concatenate(self._lines).astype(dtype) if self._lines else np.zeros(0, dtype))
        np.save(self.dir / "doc_lines.npy", np.array(self._doc_lines, dtype=np.uint64))
        t0 = time.perf_counter()
        build_suffix_array(self.dir, self.cfg)
        t1 = time.perf_counter()
        k, w = params(self.cfg.min_len)
        with (self.dir / "tokenized.0").open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as blob:
            self.anchor_keys, positions = shard_anchors(blob, k, w)
        kept = write_anchor_array(self.dir, positions)
        write_prefix_bounds(self.dir)
        (self.dir / ANCHORS_PARAMS).write_text(json.dumps({"v": ANCHORS_VERSION, "k": k, "w": w, "anchors": kept}) + "\n")
        return {"suffix_array_s": round(t1 - t0, 3), "anchors_s": round(time.perf_counter() - t1, 3),
                "lines": self._num_lines, "sa_anchors": kept}


def build_suffix_array(shard_dir: Path, cfg: ExactConfig) -> None:
    """Run infini-gram's indexer on an already tokenized shard (its step 1 sees the files and skips)."""
    empty = shard_dir / "_empty"
    empty.mkdir(exist_ok=True)
    # Its default --ulimit (1048576) fails where the hard limit is lower (FACTS: Attribution).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ulimit = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    cmd = [sys.executable, "-m", "infini_gram.indexing", "--data_dir", str(empty.resolve()),
           "--save_dir", str(shard_dir.resolve()), "--token_dtype", "u8", "--mem", str(cfg.mem_gib),
           "--cpus", str(cfg.cpus), "--ulimit", str(ulimit)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    empty.rmdir()
    if proc.returncode != 0 or not (shard_dir / "table.0").is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise RuntimeError(f"infini-gram indexer failed in {shard_dir} (rc {proc.returncode}): " + " | ".join(tail))


@dataclass
class Span:
    """A maximal matching span: snippet bytes [start, end) occur `count` times in training."""
    start: int
    end: int
    count: int
    shards: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)
    """Shard -> (count there, text offsets of up to exact.sample_ranks copies evenly spread in suffix order)."""


@dataclass
class Location:
    shard: int
    doc: int
    start_line: int
    end_line: int
    offset: int  # byte offset of the match inside the file


class ExactMatcher:
    """Maximal matching spans of a snippet over all shards. A query asks only the shards whose
    anchor filter may hold a span (attribution.route), each on its own, and merges their spans.
    Lookups bisect each shard's memory-mapped anchor suffix array in the calling thread
    (ShardTables.find); several cores serve through `server.processes`."""

    def __init__(self, shard_dirs: Iterable[Path], cfg: ExactConfig):
        self.shard_dirs = [Path(d) for d in shard_dirs]
        self.cfg = cfg
        self.k, self.w = params(cfg.min_len)
        for d in self.shard_dirs:
            missing = [name for name in EXACT_FILES if not (d / name).is_file()]
            if missing:
                raise AttributionError(f"{d}: missing {', '.join(missing)} (an index built before anchor suffix "
                                       "arrays has table.0 instead); rebuild with `starforge attribution index`")
            try:
                p = json.loads((d / ANCHORS_PARAMS).read_text())
                ok = p["v"] == ANCHORS_VERSION and (p["k"], p["w"]) == (self.k, self.w)
            except (OSError, ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                raise AttributionError(f"{d / ANCHORS_PARAMS}: not anchors of min_len {cfg.min_len} (version "
                                       f"{ANCHORS_VERSION}); rebuild with `starforge attribution index`")
        self.tables = [ShardTables(d, cfg.preload) for d in self.shard_dirs]
        self.router = Router(self.shard_dirs, self.k, self.w)
        self.finds = 0  # suffix-array lookups so far (the profile in docs/attribution.md counts them)
        self.shards_asked = 0  # shards a query searched, summed over queries

    def spans(self, data: bytes) -> list[Span]:
        """Maximal spans of `data` of at least min_len bytes, longest first."""
        if not self.tables or len(data) < self.cfg.min_len:
            return []
        snip = snippet_anchors(np.frombuffer(data, dtype=np.uint8), self.k, self.w)
        probes = self.router.probes(snip)
        self.shards_asked += len(probes)
        # A verbatim copy, the common case: one lookup a candidate shard, and no span of another
        # shard can be longer, so no probes anywhere.
        anchor = snip.anchor_of(0, len(data))
        if anchor is None:
            return []
        whole = self._count(list(probes), data, 0, len(data), anchor)
        if whole.count:
            return [whole]
        found: dict[tuple[int, int], set[int]] = {}
        sampled: set[int] = set()
        for shard, held in probes.items():
            finds, spans, was_sampled = shard_spans(self.tables[shard], data, held, self.cfg.min_len, self.cfg.scan_cap)
            self.finds += finds
            if was_sampled:
                sampled.add(shard)
            for sp in spans:
                found.setdefault(sp, set()).add(shard)
        # A span maximal over the union is maximal in every shard holding it, and a shard's
        # maximal span inside a longer one of another shard is not maximal over the union.
        kept: list[tuple[int, int]] = []
        for s, e in sorted(found, key=lambda sp: (-(sp[1] - sp[0]), sp[0])):  # longest first
            if not any(a <= s and e <= b for a, b in kept):
                kept.append((s, e))
        out = []
        for s, e in kept[:self.cfg.max_spans]:
            anchor = snip.anchor_of(s, e)
            assert anchor is not None  # every reported span holds a window with an anchor
            out.append(self._count(sorted(found[(s, e)] | sampled), data, s, e, anchor))
        return out

    def _count(self, shards: list[int], data: bytes, start: int, end: int, anchor: int) -> Span:
        """The span [start, end) with its exact count and sampled copies in `shards`."""
        span = Span(start, end, 0)
        sample = max(self.cfg.sample_ranks, self.cfg.max_locations)
        for shard in shards:
            count, ptrs = occurrences(self.tables[shard], data, start, end, anchor, sample)
            self.finds += 1
            if count:
                span.shards[shard] = (count, ptrs)
                span.count += count
        return span

    def locations(self, span: Span, data: bytes) -> list[Location]:
        """Up to max_locations training places of a span of `data`, in shard and file order.

        A span seen at most max_locations times lists every place. A more common one (a licence
        header, a vendored module) lists a sample: up to exact.sample_ranks copies evenly
        spaced in suffix order over the shards, then one place per distinct file, evenly spread;
        `span.count` stays the exact total. So the cost is bounded by sample_ranks, not by how
        often the span occurs.

        Lines are those of the span without its leading and trailing whitespace, so a span that
        begins with the newline ending a line, or ends in the indentation of the next, names
        only the lines it really shares.
        """
        text = data[span.start:span.end]
        core = text.strip()
        lead = len(text) - len(text.lstrip()) if core else 0
        length = len(core) if core else len(text)
        out = [Location(shard, doc, first, last, offset - lead)
               for shard, ptr in self._places(span)
               for doc, first, last, offset in [self.tables[shard].locate(ptr + lead, length)]]
        out.sort(key=lambda loc: (loc.shard, loc.doc, loc.start_line))
        return out

    def _places(self, span: Span) -> list[tuple[int, int]]:
        """(shard, text offset) of the occurrences `locations` lists."""
        k = self.cfg.max_locations
        shards = sorted(span.shards)
        sizes = np.array([span.shards[s][0] for s in shards], dtype=np.int64)
        total = int(sizes.sum())
        if total == 0 or k <= 0:
            return []
        cap = total if total <= k else min(total, max(k, self.cfg.sample_ranks))
        picks = np.unique(np.linspace(0, total - 1, cap).round().astype(np.int64))
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        which = np.searchsorted(bounds, picks, side="right") - 1
        cands: list[tuple[int, int, int]] = []  # (shard, doc, ptr) in suffix order
        for i in np.unique(which).tolist():
            shard = shards[i]
            count, sample = span.shards[shard]
            idx = np.unique((picks[which == i] - bounds[i]) * len(sample) // count)
            ptrs = sample[idx].astype(np.uint64)
            tables = self.tables[shard]
            cands.extend(zip([shard] * len(ptrs), tables.docs_of(ptrs).tolist(), ptrs.tolist()))
        if len(cands) <= k:
            return [(s, p) for s, _, p in cands]
        seen: set[tuple[int, int]] = set()
        distinct, rest = [], []
        for c in cands:
            (rest if (c[0], c[1]) in seen else distinct).append(c)
            seen.add((c[0], c[1]))
        chosen = _spread(distinct, k) if len(distinct) >= k else distinct + _spread(rest, k - len(distinct))
        return [(s, p) for s, _, p in chosen]

    def close(self) -> None:
        for t in self.tables:
            t.close()
        self.tables = []


def _spread(items: list, k: int) -> list:
    """k items evenly spaced over `items` (all of them when there are at most k)."""
    if len(items) <= k:
        return list(items)
    return [items[int(i * len(items) / k)] for i in range(k)]
