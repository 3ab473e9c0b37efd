"""Stage 2a of near dedup, as many tasks as wanted: each owns a range of LSH buckets, finds the
documents sharing a band hash there, verifies them and writes the links that join clusters.

The buckets are (band, top-10-bit prefix of the band hash) pairs, `bands x 1024` of them, cut
into `world_size` contiguous ranges (datatrove's MinHash splits its bucket stage by band ranges
the same way, `pipeline/dedup/minhash.py`). A task reads its ranges from every stage-1 folder in
pieces of at most `batch_bytes` (about 48 bytes a hash while sorting), so its memory is bounded
by config whatever the corpus size; the cost of a larger corpus is more pieces, not more memory.

In a piece, documents with equal hashes form a bucket. Two documents of a bucket are linked if
- they share no earlier band (else the task owning that band decides about them: each pair is
  judged once, whatever the number of tasks), and
- the MinHash estimate from the full 256-value signatures clears `threshold + margin`, or it
  lies within `margin` of the threshold and the exact Jaccard of their 5-gram sets (from the
  text store) reaches the threshold. With 256 permutations the estimate's standard deviation is
  at most 0.031, so the default margin (0.15) is five of them.
In buckets of up to 32 documents every pair is judged at once from the signatures in numpy,
and texts are read only for undecided pairs not yet joined; larger buckets are walked lazily,
testing a member only against the parts of the bucket it has not joined (as
`single_task.find_near_duplicates` does). A union-find over the piece's documents keeps only
links that join two components: the links written are a spanning forest of the verified graph, and the union of every task's forests has its connected
components, so clusters, and the kept files, do not depend on how buckets are cut into tasks.
Documents exact dedup dropped are left out (`dead/<rank>.npy`).

Output `<folder>/near_pairs/<rank>.u64`: uint64 [links, 2] of global rows (stage-1 folder index
<< 32 | row), read by `near_clusters.py`.
"""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep

from data_pipeline.dedup.pair_verifier import EXACT, LINK, SMALL_BUCKET, PairVerifier, SetCache
from data_pipeline.dedup.signature_store import RankStore
from starforge.errors import FormatError

PAIRS_FOLDER = "near_pairs"
ENTRY_BYTES = 48
"""Peak bytes per band hash in a piece: hash and global row (16), their sorted copies (16), the
argsort (8) and the live mask and run bounds (8)."""


def task_buckets(bands: int, partitions: int, rank: int, world_size: int) -> tuple[int, int]:
    """[start, end) of this task's buckets in band-major order (bucket = band * partitions + prefix)."""
    total = bands * partitions
    return rank * total // world_size, (rank + 1) * total // world_size


def pieces(counts_of_band, start: int, end: int, partitions: int, max_entries: int):
    """(band, p0, p1) ranges of buckets [start, end), each holding at most `max_entries` hashes
    over all ranks (a single prefix may exceed it: it is never split)."""
    bucket = start
    while bucket < end:
        band, p0 = divmod(bucket, partitions)
        counts = counts_of_band(band)
        stop = min(end - band * partitions, partitions)
        cum = np.cumsum(counts[p0:stop])
        p1 = p0 + max(1, int(np.searchsorted(cum, max_entries, side="right")))
        yield band, p0, p1
        bucket = band * partitions + p1


class NearDuplicatePairs(PipelineStep):
    """Stage 2a (N tasks): the verified links of this task's buckets, to `near_pairs/<rank>.u64`."""

    type = "🫂 - DEDUPS"
    name = "near dedup pairs"

    def __init__(self, folder: DataFolderLike, threshold: float | None = 0.7, ngram: int = 5,
                 batch_bytes: int = 256_000_000, margin: float = 0.15):
        super().__init__()
        self.folder = get_datafolder(folder)
        self.threshold, self.ngram, self.batch_bytes, self.margin = threshold, ngram, batch_bytes, margin

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for _ in data or ():
            pass
        stores = RankStore.open_all(self.folder)
        for s in stores[1:]:
            if {k: s.meta[k] for k in ("bands", "rows", "num_perm")} != \
                    {k: stores[0].meta[k] for k in ("bands", "rows", "num_perm")}:
                raise FormatError(f"near dedup: {s.prefix} was signed with other settings than "
                                  f"{stores[0].prefix}; run stage 1 again into a fresh folder")
        # written piece by piece, so links never pile up in memory; a rerun of the task rewrites it
        with self.folder.open(f"{PAIRS_FOLDER}/{rank:05d}.u64", "wb") as out:
            for links in self._links(stores, rank, world_size) if stores else ():
                out.write(links.astype("<u8").tobytes())
                self.stat_update("links", value=len(links))
        return
        yield

    def _links(self, stores: list[RankStore], rank: int, world_size: int):
        """Yields the links of each piece of this task's buckets."""
        meta = stores[0].meta
        partitions = 1 << meta["partition_bits"]
        start, end = task_buckets(meta["bands"], partitions, rank, world_size)
        live_bits: dict[int, np.ndarray] = {}
        cache: dict[int, np.ndarray] = {}
        sets = SetCache(self.batch_bytes // 4)  # across pieces: a near copy collides in many bands

        def counts_of_band(band: int) -> np.ndarray:
            if band not in cache:
                cache.clear()
                cache[band] = sum(s.partition_counts(band) for s in stores)
            return cache[band]

        for band, p0, p1 in pieces(counts_of_band, start, end, partitions, max(1, self.batch_bytes // ENTRY_BYTES)):
            with self.track_time():
                values, rows = self._piece(stores, band, p0, p1, live_bits)
                links = self._link_buckets(stores, band, values, rows, sets)
                del values, rows
            for s in stores:
                s.close()
            self.stat_update("pieces")
            yield links

    def _piece(self, stores, band: int, p0: int, p1: int, live_bits: dict) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, global rows) of the live documents in the piece, sorted by hash then row."""
        values, rows = [], []
        for i, store in enumerate(stores):
            v, r = store.band_segment(band, p0, p1)
            if i not in live_bits:
                live_bits[i] = self._live(store, i)
            bits = live_bits[i]
            if bits is not None and len(r):
                keep = ((bits[r >> 3] >> (7 - (r & 7))) & 1).astype(bool)
                v, r = v[keep], r[keep]
            values.append(v)
            rows.append(r.astype(np.uint64) | np.uint64(i << 32))
        v, r = np.concatenate(values), np.concatenate(rows)
        # each segment is sorted by hash then row and segments come in rank order, so a stable
        # sort by hash (timsort: a merge of the runs) orders by (hash, global row)
        order = np.argsort(v, kind="stable")
        return v[order], r[order]

    def _live(self, store: RankStore, index: int) -> np.ndarray | None:
        """Packed bits, one per row (1: not dropped by exact dedup), or None when nothing was."""
        name = f"dead/{store.prefix.rsplit('/', 1)[-1]}.npy"
        if not self.folder.exists(name):
            return None
        with self.folder.open(name, "rb") as f:
            dead = np.load(f)
        positions = store.positions()
        if len(positions) and positions[-1] >= len(dead):
            raise FormatError(f"near dedup: {name} covers {len(dead)} documents but {store.prefix} signed document "
                              f"{positions[-1]}; run the exact and MinHash signatures in the same tasks, in one stage")
        live = ~dead[positions]
        return None if live.all() else np.packbits(live)

    def _link_buckets(self, stores, band: int, values: np.ndarray, rows: np.ndarray, sets: SetCache) -> np.ndarray:
        if len(values) < 2:
            return np.zeros((0, 2), dtype=np.uint64)
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        sizes = np.diff(np.r_[starts, len(values)])
        multi = sizes > 1
        self.stat_update("buckets", value=int(multi.sum()))
        if self.threshold is None:  # trust the bands: each bucket is a star around its first row
            first = np.repeat(starts, sizes)  # each hash's bucket start
            member = np.repeat(multi, sizes) & (np.arange(len(values)) != first)
            return np.stack([rows[first[member]], rows[member]], axis=1)
        # buckets sliced lazily: no per-bucket object outlives its chunk of signatures
        buckets = (rows[s:s + n] for s, n in zip(starts[multi], sizes[multi]))
        verifier = PairVerifier(stores, band, self.threshold, self.margin, self.ngram, self.batch_bytes, sets)
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while parent.get(x, x) != root:
                parent[x], x = root, parent[x]
            return root

        def union(i: int, j: int) -> bool:
            ri, rj = find(i), find(j)
            if ri == rj:
                return False
            parent[max(ri, rj)] = min(ri, rj)
            return True

        out: list[tuple[int, int]] = []
        for chunk in verifier.chunks(buckets):
            small = [b for b in chunk if len(b) <= SMALL_BUCKET]
            if small:  # every pair decided at once by signatures; texts only for undecided ones
                first, second = bucket_pairs(small)
                decision = verifier.decide(first, second)
                for code in (LINK, EXACT):  # sure links first: fewer texts to read
                    for i, j in zip(first[decision == code].tolist(), second[decision == code].tolist()):
                        if find(i) != find(j) and (code == LINK or verifier.exact(i, j)):
                            union(i, j)
                            out.append((i, j))
            for bucket in (b for b in chunk if len(b) > SMALL_BUCKET):  # lazily: not all k^2 pairs
                groups: dict[int, list[int]] = {}  # root -> this bucket's members in that component so far
                for i in bucket.tolist():
                    ri = find(i)
                    joined = groups.pop(ri, [])
                    for root in list(groups):
                        j = next((j for j in groups[root] if verifier.linked(i, j)), None)
                        if j is not None:
                            out.append((j, i))
                            joined += groups.pop(root)
                            parent[max(ri, root)] = min(ri, root)
                            ri = min(ri, root)
                    joined.append(i)
                    groups[ri] = joined
        for key, value in verifier.counts.items():
            self.stat_update(key, value=value)
        return np.array(out, dtype=np.uint64).reshape(-1, 2)


def bucket_pairs(buckets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every (first, second) pair of members within each bucket, as two arrays of global rows."""
    sizes = np.array([len(b) for b in buckets])
    members = np.concatenate(buckets)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    firsts, seconds = [], []
    for k in np.unique(sizes).tolist():
        iu, ju = np.triu_indices(k, 1)
        at = offsets[sizes == k][:, None]
        firsts.append((at + iu).ravel())
        seconds.append((at + ju).ravel())
    return members[np.concatenate(firsts)], members[np.concatenate(seconds)]
