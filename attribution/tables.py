"""One shard's text, anchor suffix array and line tables, memory-mapped (the layout in attribution.exact).

The suffix array holds only the suffixes starting at a winnowing anchor of the text (the leftmost
minimum gram of some window, attribution.route): about 2 / (w + 1) of its positions, 5.9 % at
min_len 64, so 0.18 bytes a corpus byte with 3-byte ranks instead of 3. Every span the matcher
reports passes through an anchor at the same offset in every copy (attribution.spans).

Every lookup here costs O(log) of a file's size, or O(1): a match offset is bisected into
offset.0 (one entry a file), then into the file's own slice of lines.npy. Bisect with numpy
scalars of the arrays' dtype: `np.searchsorted(uint64_array, python_int)` casts the whole array
first (numpy 2), an O(corpus) copy per call that made line numbers the dominant cost of a query
on large shards (docs/attribution.md, "Profile").
"""

from __future__ import annotations

import bisect
import mmap
import os
from pathlib import Path

import numpy as np

from starforge.errors import AttributionError

DOC_SEP = b"\xff"


class ShardTables:
    """A shard's tables; `preload` asks the kernel to read the text and suffix array ahead."""

    def __init__(self, shard_dir: Path, preload: bool = False):
        if preload:
            for name in ("tokenized.0", ANCHORS_FILE):
                _readahead(shard_dir / name)
        self.data_file = (shard_dir / "tokenized.0").open("rb")
        self.data = mmap.mmap(self.data_file.fileno(), 0, access=mmap.ACCESS_READ)
        self.text = np.frombuffer(self.data, dtype=np.uint8)
        self.offsets = np.fromfile(shard_dir / "offset.0", dtype=np.uint64)
        self.lines = np.load(shard_dir / "lines.npy", mmap_mode="r")
        self.doc_lines = np.load(shard_dir / "doc_lines.npy")
        size = len(self.data)
        self.ptr_bytes = ptr_bytes(size)
        self.table_file = (shard_dir / ANCHORS_FILE).open("rb")
        if os.fstat(self.table_file.fileno()).st_size:
            self.table_raw: mmap.mmap | bytes = mmap.mmap(self.table_file.fileno(), 0, access=mmap.ACCESS_READ)
            self.table = np.frombuffer(self.table_raw, dtype=np.uint8)
        else:  # a shard with no anchor (every file shorter than min_len): nothing to map
            self.table_raw, self.table = b"", np.zeros(0, np.uint8)
        self.ranks = len(self.table) // self.ptr_bytes  # anchors in the array
        if len(self.table) % self.ptr_bytes or len(self.doc_lines) != len(self.offsets):
            raise AttributionError(f"{shard_dir}: index files disagree in size; rebuild with `starforge attribution index`")
        self._weights = (256 ** np.arange(self.ptr_bytes, dtype=np.uint64)).astype(np.uint64)
        bounds = shard_dir / BOUNDS_FILE
        self.bounds = np.load(bounds).tolist() if bounds.is_file() else None
        if self.bounds is not None and (len(self.bounds) != BOUNDS_LEN or self.bounds[-1] != self.ranks):
            raise AttributionError(f"{shard_dir}: {BOUNDS_FILE} does not match the suffix array; "
                                   "rebuild with `starforge attribution index`")

    def find(self, pattern: bytes, start: int = 0, stop: int | None = None) -> tuple[int, int]:
        """Rank range [lo, hi) of the anchor suffixes starting with `pattern`, within [start,
        stop): two bisections over the memory-mapped ranks, O(log n) steps of one slice
        comparison each, in the calling thread (infini-gram's engine `find` starts an OS thread
        per call: 0.62 ms of wall time against 0.08 ms here; docs/attribution.md, "Shards")."""
        seq = _Prefixes(self.data, self.table_raw, self.ptr_bytes, len(pattern), self.ranks)
        stop = self.ranks if stop is None else stop
        if self.bounds is not None and pattern and (start, stop) == (0, self.ranks):
            key = pattern[0] * 257 + (pattern[1] + 1 if len(pattern) > 1 else 0)
            start, stop = self.bounds[key], self.bounds[key + 1 if len(pattern) > 1 else key + 257]
        lo = bisect.bisect_left(seq, pattern, start, stop)
        return lo, bisect.bisect_right(seq, pattern, lo, stop)

    def ptr(self, rank: int) -> int:
        b = self.ptr_bytes
        return int.from_bytes(self.table[rank * b:(rank + 1) * b].tobytes(), "little")

    def ptrs(self, ranks: np.ndarray) -> np.ndarray:
        """Text offsets (uint64) of suffix-array ranks, read in one gather."""
        b = self.ptr_bytes
        idx = np.asarray(ranks, dtype=np.int64)[:, None] * b + np.arange(b)
        return (self.table[idx].astype(np.uint64) * self._weights).sum(axis=1, dtype=np.uint64)

    def docs_of(self, ptrs: np.ndarray) -> np.ndarray:
        """The file (index into offset.0) holding each text offset."""
        return np.searchsorted(self.offsets, np.asarray(ptrs, dtype=np.uint64), side="right").astype(np.int64) - 1

    def _doc_line_range(self, doc: int) -> tuple[int, int]:
        first = int(self.doc_lines[doc])
        last = int(self.doc_lines[doc + 1]) if doc + 1 < len(self.doc_lines) else len(self.lines)
        return first, last

    def locate(self, ptr: int, length: int) -> tuple[int, int, int, int]:
        """(doc, 1-based first line, last line, byte offset inside the doc) of match [ptr, ptr+length)."""
        doc = int(np.searchsorted(self.offsets, np.uint64(ptr), side="right")) - 1
        first, last = self._doc_line_range(doc)
        starts = self.lines[first:last]  # this file's line starts only
        needle = starts.dtype.type  # uint32 or uint64 (older indexes), never a Python int
        start_line = int(np.searchsorted(starts, needle(ptr), side="right"))
        end_line = int(np.searchsorted(starts, needle(ptr + max(length, 1) - 1), side="right"))
        return doc, start_line, end_line, ptr - int(self.offsets[doc]) - len(DOC_SEP)

    def line_starts(self, doc: int) -> np.ndarray:
        """Offsets of the doc's line starts, relative to its first byte."""
        first, last = self._doc_line_range(doc)
        return np.asarray(self.lines[first:last], dtype=np.uint64) - np.uint64(int(self.offsets[doc]) + len(DOC_SEP))

    def lines_text(self, doc: int, start_line: int, end_line: int) -> str:
        """Lines start_line..end_line (1-based, inclusive) of a doc, without the final newline."""
        base = int(self.offsets[doc]) + len(DOC_SEP)
        end_doc = int(self.offsets[doc + 1]) if doc + 1 < len(self.offsets) else len(self.data)
        first, last = self._doc_line_range(doc)
        num = last - first
        start = int(self.lines[first + start_line - 1]) if 1 <= start_line <= num else base
        end = int(self.lines[first + end_line]) if end_line < num else end_doc
        return self.data[start:end].decode("utf-8", errors="replace").removesuffix("\n")

    def doc_bytes(self, doc: int) -> bytes:
        start = int(self.offsets[doc]) + len(DOC_SEP)
        end = int(self.offsets[doc + 1]) if doc + 1 < len(self.offsets) else len(self.data)
        return self.data[start:end]

    def close(self) -> None:
        del self.table, self.text  # views of the maps: released before the maps close
        if isinstance(self.table_raw, mmap.mmap):
            self.table_raw.close()
        self.table_file.close()
        self.data.close()
        self.data_file.close()


ANCHORS_FILE = "anchors.0"
"""The anchor suffix array: each anchor's text offset in ptr_bytes little-endian bytes, in suffix order."""
BOUNDS_FILE = "prefix_bounds.npy"
BOUNDS_LEN = 256 * 257 + 1
"""Key of a suffix: first byte x 257 + (second byte + 1), or + 0 for a one-byte suffix, so keys
never decrease along the suffix array; bounds[key] is the first rank of that key."""


def write_prefix_bounds(shard_dir: Path, chunk: int = 1 << 19) -> None:
    """The first rank of every two-byte prefix of the shard's suffix array (BOUNDS_FILE, 257 KB
    with uint32 ranks): a lookup then bisects only the ranks sharing the pattern's first two
    bytes, about half the steps (docs/attribution.md, "Profile"). Counted in chunks of ranks,
    so memory stays bounded for any shard size (2^19 ranks: 1.2 s for 15 MB, against 4.2 s at
    2^22, where the gathers leave the cache)."""
    tables = ShardTables(shard_dir)
    try:
        n, ranks = len(tables.data), tables.ranks
        text = tables.text
        counts = np.zeros(BOUNDS_LEN - 1, dtype=np.int64)
        for lo in range(0, ranks, chunk):
            ptrs = tables.ptrs(np.arange(lo, min(lo + chunk, ranks))).astype(np.int64)
            second = np.where(ptrs + 1 < n, text[np.minimum(ptrs + 1, n - 1)].astype(np.int64) + 1, 0)
            counts += np.bincount(text[ptrs].astype(np.int64) * 257 + second, minlength=BOUNDS_LEN - 1)
        del text
    finally:
        tables.close()
    bounds = np.concatenate(([0], np.cumsum(counts)))
    np.save(shard_dir / BOUNDS_FILE, bounds.astype(np.uint32 if ranks < 2 ** 32 else np.uint64))


def ptr_bytes(size: int) -> int:
    """Bytes of one rank: infini-gram's build_sa stores ceil(log2(size) / 8) little-endian bytes."""
    return max(1, int(np.ceil(np.log2(max(size, 2)) / 8)))


def write_anchor_array(shard_dir: Path, positions: np.ndarray, chunk: int = 1 << 20) -> int:
    """Keep only the anchor positions of infini-gram's full suffix array `table.0` (filtering
    keeps the suffix order), written as ANCHORS_FILE; table.0 is deleted. Read in chunks of
    ranks, so memory stays bounded by the shard's text (one mask byte a position). Returns the
    anchors kept."""
    full = shard_dir / "table.0"
    size = (shard_dir / "tokenized.0").stat().st_size
    b = ptr_bytes(size)
    mask = np.zeros(size, dtype=bool)
    mask[positions] = True
    table = np.memmap(full, dtype=np.uint8, mode="r")
    if len(table) != size * b:
        raise AttributionError(f"{full}: {len(table)} bytes, not {size} ranks of {b}; rebuild the shard")
    weights = (256 ** np.arange(b, dtype=np.uint64)).astype(np.uint64)
    kept = 0
    with (shard_dir / ANCHORS_FILE).open("wb") as out:
        for lo in range(0, size, chunk):
            raw = np.asarray(table[lo * b:min(lo + chunk, size) * b]).reshape(-1, b)
            ptrs = (raw.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
            keep = mask[ptrs]
            out.write(raw[keep].tobytes())
            kept += int(keep.sum())
    table._mmap.close()  # type: ignore[attr-defined]
    full.unlink()
    return kept


class _Prefixes:
    """The suffix array as a sorted sequence of its suffixes' first m bytes, for `bisect`:
    truncating every suffix to m bytes keeps their order (ties become equal)."""

    __slots__ = ("data", "table", "width", "m", "n")

    def __init__(self, data: mmap.mmap, table: mmap.mmap | bytes, width: int, m: int, n: int):
        self.data, self.table, self.width, self.m, self.n = data, table, width, m, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rank: int) -> bytes:
        w = self.width
        ptr = int.from_bytes(self.table[rank * w:(rank + 1) * w], "little")
        return self.data[ptr:ptr + self.m]


def _readahead(path: Path) -> None:
    """Ask the kernel to read a file into the page cache in the background (no wait, no copy)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
    finally:
        os.close(fd)
