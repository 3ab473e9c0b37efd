"""Exact-match location on infini-gram's byte-level suffix array (`--token_dtype u8`).

A shard's files are written as raw UTF-8, each preceded by the 0xff document separator (a byte
UTF-8 never uses, so no match crosses two files), in infini-gram's own layout:

    tokenized.0   b"\\xff" + file bytes, for every file
    offset.0      uint64 offset of each file's separator in tokenized.0
    table.0       the suffix array, built by infini-gram's bundled indexer (`build_sa`)
    lines.npy     absolute offset of every line start, all files in order (uint32 below 4 GiB)
    doc_lines.npy index into lines.npy of each file's first line

so a match offset maps to a file by bisecting offset.0 and to a 1-based line by bisecting that
file's own slice of lines.npy (attribution.tables). For a snippet we report its maximal matching
spans as OLMoTrace does (spans that occur verbatim and cannot be extended either way), found
with O(log n) lookups per span (attribution.spans): one of the whole snippet (a verbatim copy,
the common case, ends there), else probes grown by bisection and galloping. Each lookup is a
binary search of the suffix array (attribution.tables), O(log n) steps of at most len(query)
byte comparisons, so a query's cost is set by the snippet and the places it lists, not by the
corpus; a span seen thousands of times lists a bounded sample of its places with the exact
count. Only the shards whose anchor filter may hold a span are searched (attribution.route),
and their spans merged. The engine's own
`attribute` and `creativity` start a thread per snippet offset (~70 ms for 300 bytes even on a
48 KB index), and `attribute` drops any span seen more than `max_cnt` times (a common licence
header) outright. Where the time went before, and why: docs/attribution.md, "Profile".
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attribution.config import ExactConfig
from attribution.route import Router
from attribution.spans import maximal_spans
from attribution.tables import DOC_SEP, ShardTables, write_prefix_bounds
from starforge.errors import AttributionError

log = logging.getLogger(__name__)

# The u8 engine checks eos_token_id < vocab_size; neither matters for find (FACTS: Attribution).
ENGINE_KW = {"eos_token_id": 254, "vocab_size": 255, "version": 4, "token_dtype": "u8"}
ENGINE_FILES = ("tokenized.0", "offset.0", "table.0", "lines.npy", "doc_lines.npy")


class ExactWriter:
    """Writes one shard's byte stream and side tables; `finish()` builds the suffix array."""

    def __init__(self, shard_dir: Path, cfg: ExactConfig):
        self.dir = shard_dir
        self.cfg = cfg
        self._data = (shard_dir / "tokenized.0").open("wb")
        self._offsets: list[int] = []
        self._lines: list[np.ndarray] = []
        self._doc_lines: list[int] = []
        self._pos = 0
        self._num_lines = 0

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
        write_prefix_bounds(self.dir)
        return {"suffix_array_s": round(time.perf_counter() - t0, 3), "lines": self._num_lines}


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
    segments: list[tuple[int, int]]  # suffix-array rank range per shard


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
    Lookups bisect each shard's memory-mapped suffix array in the calling thread
    (`exact.lookup=bisect`, ShardTables.find); `engine` uses infini-gram's C++ `find` instead,
    which releases the GIL, so candidate shards are searched on up to `exact.fanout_workers`
    threads, but starts an OS thread per lookup (its multi-shard engine one per shard: what made
    11 shards 17x slower than one)."""

    def __init__(self, shard_dirs: Iterable[Path], cfg: ExactConfig):
        self.shard_dirs = [Path(d) for d in shard_dirs]
        self.cfg = cfg
        for d in self.shard_dirs:
            missing = [name for name in ENGINE_FILES if not (d / name).is_file()]
            if missing:
                raise AttributionError(f"{d}: missing {', '.join(missing)}; rebuild with `starforge attribution index`")
        self.tables = [ShardTables(d, cfg.preload) for d in self.shard_dirs]
        self._finders = [t.find for t in self.tables] if cfg.lookup == "bisect" else self._engine_finders(cfg)
        self.router = Router(self.shard_dirs, cfg.min_len)
        # Threads only pay where lookups release the GIL (the engine's); bisect holds it.
        self._workers = min(cfg.fanout_workers, len(self.shard_dirs)) if cfg.lookup == "engine" else 1
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self.finds = 0  # suffix-array lookups so far (the profile in docs/attribution.md counts them)
        self.shards_asked = 0  # shards a query searched, summed over queries

    def _engine_finders(self, cfg: ExactConfig) -> list[Callable[[bytes], tuple[int, int]]]:
        from infini_gram.engine import InfiniGramEngine

        depth = cfg.prefetch_depth
        finders = []
        for d in self.shard_dirs:
            # The C++ engine directly: the Python wrapper re-checks every id, O(len) per call.
            engine = InfiniGramEngine(index_dir=[str(d)], **ENGINE_KW, ds_prefetch_depth=min(depth, 1),
                                      sa_prefetch_depth=depth).engine

            def find(pattern: bytes, engine=engine) -> tuple[int, int]:
                res = engine.find(input_ids=list(pattern))
                return tuple(res.segment_by_shard[0]) if res.cnt else (0, 0)
            finders.append(find)
        return finders

    def count(self, data: bytes) -> int:
        """Occurrences of `data` in all shards (no routing: any length)."""
        self.finds += len(self._finders)
        return sum(hi - lo for lo, hi in (f(data) for f in self._finders))

    def spans(self, data: bytes) -> list[Span]:
        """Maximal spans of `data` of at least min_len bytes, longest first."""
        if not self._finders or len(data) < self.cfg.min_len:
            return []
        probes = self.router.probes(data)
        self.shards_asked += len(probes)
        # A verbatim copy, the common case: one find a candidate shard, and no span of another
        # shard can be longer, so no probes anywhere.
        whole = {s: self._finders[s](data) for s in probes}
        self.finds += len(whole)
        if any(hi > lo for lo, hi in whole.values()):
            segments = [(0, 0)] * len(self._finders)
            for s, seg in whole.items():
                segments[s] = seg
            return [Span(0, len(data), sum(hi - lo for lo, hi in whole.values()), segments)]
        shards = list(probes)
        if self._workers > 1 and len(shards) > 1:
            results = list(self._fanout_pool().map(lambda s: self._shard_spans(s, data, probes[s]), shards))
        else:
            results = [self._shard_spans(s, data, probes[s]) for s in shards]
        self.finds += sum(finds for finds, _ in results)
        per_shard = [found for _, found in results]
        # A span maximal over the union is maximal in every shard holding it, and a shard's
        # maximal span inside a longer one of another shard is not maximal over the union.
        merged: dict[tuple[int, int], Span] = {}
        for shard, found in zip(shards, per_shard):
            for s, e, cnt, seg in found:
                span = merged.setdefault((s, e), Span(s, e, 0, [(0, 0)] * len(self._finders)))
                span.count += cnt
                span.segments[shard] = seg
        spans = sorted(merged.values(), key=lambda sp: (-(sp.end - sp.start), sp.start))
        kept: list[Span] = []
        for sp in spans:  # longest first: only an earlier (longer) span can contain a later one
            if not any(k.start <= sp.start and sp.end <= k.end for k in kept):
                kept.append(sp)
        return kept[:self.cfg.max_spans]

    def _fanout_pool(self) -> ThreadPoolExecutor:
        """The thread pool, made in this process: `serve` forks after opening the index, and a
        child inherits a pool whose threads do not exist there."""
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="exact-fanout")
            self._pool_pid = os.getpid()
        return self._pool

    def _shard_spans(self, shard: int, data: bytes, probes: list[int] | None
                     ) -> tuple[int, list[tuple[int, int, int, tuple[int, int]]]]:
        """Lookups made, and (start, end, count, rank range) of the maximal spans of `data` in one
        shard (the whole snippet is known not to occur there); `probes` as in maximal_spans."""
        lookup = self._finders[shard]
        finds = 0

        def occurs(start: int, end: int) -> bool:
            nonlocal finds
            finds += 1
            lo, hi = lookup(data[start:end])
            return hi > lo

        out = []
        for s, e in maximal_spans(occurs, len(data), self.cfg.min_len, self.cfg.max_spans, probes):
            if e - s >= self.cfg.min_len:
                finds += 1
                lo, hi = lookup(data[s:e])
                out.append((s, e, hi - lo, (lo, hi)))
        return finds, out

    def locations(self, span: Span, data: bytes) -> list[Location]:
        """Up to max_locations training places of a span of `data`, in shard and file order.

        A span seen at most max_locations times lists every place. A more common one (a licence
        header, a vendored module) lists a sample: up to exact.sample_ranks occurrences evenly
        spaced over its suffix-array ranks, read in one gather per shard, then one place per
        distinct file, evenly spread; `span.count` stays the exact total. So the cost is bounded
        by sample_ranks, not by how often the span occurs.

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
        sizes = np.array([hi - lo for lo, hi in span.segments], dtype=np.int64)
        total = int(sizes.sum())
        if total == 0 or k <= 0:
            return []
        cap = total if total <= k else min(total, max(k, self.cfg.sample_ranks))
        picks = np.unique(np.linspace(0, total - 1, cap).round().astype(np.int64))
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        shard_of = np.searchsorted(bounds, picks, side="right") - 1
        cands: list[tuple[int, int, int]] = []  # (shard, doc, ptr) in rank order
        for shard in np.unique(shard_of).tolist():
            tables = self.tables[shard]
            ranks = picks[shard_of == shard] - bounds[shard] + span.segments[shard][0]
            ptrs = tables.ptrs(ranks)
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
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.shutdown()
        for t in self.tables:
            t.close()
        self._finders = []


def _spread(items: list, k: int) -> list:
    """k items evenly spaced over `items` (all of them when there are at most k)."""
    if len(items) <= k:
        return list(items)
    return [items[int(i * len(items) / k)] for i in range(k)]
