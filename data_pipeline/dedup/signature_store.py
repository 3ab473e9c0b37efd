"""Stage 1's near-dedup outputs, laid out so that a stage-2 task reads only its share.

One folder per stage-1 task, `<folder>/minhash/<rank>/`, of raw little-endian arrays (so a reader
seeks straight to what it needs, on a local disk or any fsspec filesystem datatrove reads):

    meta.json          {"docs", "bands", "rows", "num_perm", "partition_bits", "texts"}
    keys.jsonl         [id, stars, updated] of each signed document (row), in stream order
    positions.u32      each row's position among all documents the task saw (exact dedup's lines)
    bands.u64          [bands, docs]: each band's hashes, sorted (band-major: a band is one run)
    band_rows.u32      [bands, docs]: the row of each sorted hash
    band_index.i64     [bands, 2^k + 1]: where each k-bit top prefix starts in the sorted band
    signatures.u32     [docs, num_perm]: row i's full MinHash signature at i * num_perm * 4
    texts.bin, text_offsets.u64   row i's UTF-8 text at [off[i], off[i + 1]) (when `texts`)

A stage-2 task owning a range of (band, prefix) buckets reads, from each rank, one contiguous
slice of `bands.u64`/`band_rows.u32` per band (like datatrove's per-bucket signature files,
`pipeline/dedup/minhash.py`, but independent of the stage-2 task count), and the signatures and
texts of colliding rows only, one row at a time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import orjson

PARTITION_BITS = 10
"""Top bits of a band hash that index it: 1,024 buckets ranges per band a task can own."""


def write_bands(folder, prefix: str, matrix: np.ndarray, partition_bits: int = PARTITION_BITS) -> None:
    """bands.u64, band_rows.u32 and band_index.i64 of `matrix` [docs, bands] (uint64)."""
    n, bands = matrix.shape
    index = np.zeros((bands, (1 << partition_bits) + 1), dtype=np.int64)
    edges = (np.arange((1 << partition_bits) + 1, dtype=np.uint64) << np.uint64(64 - partition_bits))
    with folder.open(f"{prefix}/bands.u64", "wb") as fv, folder.open(f"{prefix}/band_rows.u32", "wb") as fr:
        for b in range(bands):
            order = np.argsort(matrix[:, b], kind="stable").astype(np.uint32)
            values = matrix[order, b]
            fv.write(values.astype("<u8").tobytes())
            fr.write(order.astype("<u4").tobytes())
            index[b, :-1] = np.searchsorted(values, edges[:-1], side="left")
            index[b, -1] = n
    with folder.open(f"{prefix}/band_index.i64", "wb") as f:
        f.write(index.astype("<i8").tobytes())


@dataclass
class RankStore:
    """Reader of one stage-1 task's folder; opens its files on first use, `close()` releases them."""

    folder: object
    prefix: str
    meta: dict = field(default_factory=dict)
    _files: dict = field(default_factory=dict, repr=False)

    @classmethod
    def open_all(cls, folder) -> list[RankStore]:
        """Every rank folder under `minhash/`, in rank order (its index is the rank's place in row ids)."""
        if not folder.exists("minhash"):
            return []
        metas = sorted(p for p in folder.list_files("minhash", glob_pattern="*/meta.json"))
        stores = []
        for path in metas:
            with folder.open(path, "rb") as f:
                stores.append(cls(folder, path.rsplit("/", 1)[0], orjson.loads(f.read())))
        return stores

    @property
    def docs(self) -> int:
        return self.meta["docs"]

    def _file(self, name: str):
        if name not in self._files:
            self._files[name] = self.folder.open(f"{self.prefix}/{name}", "rb")
        return self._files[name]

    def _read(self, name: str, offset: int, count: int, dtype: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        f = self._file(name)
        f.seek(offset * size)
        return np.frombuffer(f.read(count * size), dtype=dtype)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def partition_counts(self, band: int) -> np.ndarray:
        """Hashes of `band` in each top-bit prefix (int64 [2^k])."""
        width = (1 << self.meta["partition_bits"]) + 1
        return np.diff(self._read("band_index.i64", band * width, width, "<i8"))

    def band_segment(self, band: int, p0: int, p1: int) -> tuple[np.ndarray, np.ndarray]:
        """(sorted hashes, rows) of `band` whose top prefix is in [p0, p1)."""
        width = (1 << self.meta["partition_bits"]) + 1
        lo, hi = self._read("band_index.i64", band * width + p0, 1, "<i8")[0], \
            self._read("band_index.i64", band * width + p1, 1, "<i8")[0]
        start = band * self.docs + int(lo)
        return (self._read("bands.u64", start, int(hi - lo), "<u8"),
                self._read("band_rows.u32", start, int(hi - lo), "<u4"))

    def signatures(self, rows: np.ndarray) -> np.ndarray:
        """uint32 [len(rows), num_perm]: the full signatures of `rows` (read one by one, in order)."""
        p = self.meta["num_perm"]
        out = np.empty((len(rows), p), dtype=np.uint32)
        for i, row in enumerate(rows.tolist()):
            out[i] = self._read("signatures.u32", row * p, p, "<u4")
        return out

    def text(self, row: int) -> str:
        lo, hi = self._read("text_offsets.u64", row, 2, "<u8").tolist()
        f = self._file("texts.bin")
        f.seek(lo)
        return f.read(hi - lo).decode("utf-8", "surrogatepass")

    def positions(self) -> np.ndarray:
        return self._read("positions.u32", 0, self.docs, "<u4")

    def keys(self, rows: np.ndarray):
        """(row, [id, stars, updated]) for the sorted `rows`, streaming keys.jsonl once."""
        wanted = iter(rows.tolist())
        target = next(wanted, None)
        with self.folder.open(f"{self.prefix}/keys.jsonl", "rb") as f:
            for row, line in enumerate(f):
                if target is None:
                    return
                if row == target:
                    yield row, orjson.loads(line)
                    target = next(wanted, None)

    def all_keys(self) -> list[tuple[str, int, str]]:
        with self.folder.open(f"{self.prefix}/keys.jsonl", "rb") as f:
            return [tuple(orjson.loads(line)) for line in f]

    def band_matrix(self) -> np.ndarray:
        """uint64 [docs, bands] back in row order (the single-task finder's view: all of it at once)."""
        bands = self.meta["bands"]
        values = self._read("bands.u64", 0, bands * self.docs, "<u8").reshape(bands, self.docs)
        rows = self._read("band_rows.u32", 0, bands * self.docs, "<u4").reshape(bands, self.docs)
        out = np.empty((self.docs, bands), dtype=np.uint64)
        for b in range(bands):
            out[rows[b], b] = values[b]
        return out


class StoreWriter:
    """Streams one stage-1 task's rows into its folder; `finish()` sorts and writes the bands."""

    def __init__(self, folder, rank: int, num_perm: int, bands: int, rows: int, texts: bool):
        self.folder, self.prefix = folder, f"minhash/{rank:05d}"
        self.meta = {"docs": 0, "bands": bands, "rows": rows, "num_perm": num_perm,
                     "partition_bits": PARTITION_BITS, "texts": texts}
        self._stack = contextlib.ExitStack()
        names = ["keys.jsonl", "positions.u32", "signatures.u32"] + (["texts.bin", "text_offsets.u64"] if texts else [])
        self._f = {n: self._stack.enter_context(folder.open(f"{self.prefix}/{n}", "wb")) for n in names}
        self._bands: list[np.ndarray] = []
        self._text_end = 0
        if texts:
            self._f["text_offsets.u64"].write(np.zeros(1, dtype="<u8").tobytes())

    def add(self, keys: list[bytes], positions: np.ndarray, signatures: np.ndarray, band_matrix: np.ndarray,
            texts: list[str]) -> None:
        self._f["keys.jsonl"].write(b"".join(k + b"\n" for k in keys))
        self._f["positions.u32"].write(positions.astype("<u4").tobytes())
        self._f["signatures.u32"].write(signatures.astype("<u4").tobytes())
        self._bands.append(band_matrix)
        if self.meta["texts"]:
            encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
            self._f["texts.bin"].write(b"".join(encoded))
            ends = self._text_end + np.cumsum([len(e) for e in encoded], dtype=np.uint64)
            if len(ends):
                self._text_end = int(ends[-1])
            self._f["text_offsets.u64"].write(ends.astype("<u8").tobytes())
        self.meta["docs"] += len(keys)

    def finish(self) -> None:
        self._stack.close()
        bands = self.meta["bands"]
        matrix = np.concatenate(self._bands) if self._bands else np.zeros((0, bands), dtype=np.uint64)
        write_bands(self.folder, self.prefix, matrix)
        with self.folder.open(f"{self.prefix}/meta.json", "wb") as f:  # last: a folder with meta.json is whole
            f.write(orjson.dumps(self.meta))
