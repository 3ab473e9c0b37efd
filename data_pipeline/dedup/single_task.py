"""The one-process near-dedup finder, kept as the reference the split stages must equal (tests)
and as the baseline `bench/dedup_scale.py` fits its memory to: it loads every document's band
hashes and keys into one process."""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep

from data_pipeline.dedup.exact import DUPLICATES_FILE, read_duplicate_ids, write_duplicates
from data_pipeline.dedup.minhash import NEAR_DUPLICATES_FILE, jaccard, keeper_key, shingle_hashes
from data_pipeline.dedup.signature_store import RankStore


class NearDuplicateFinder(PipelineStep):
    """Stage 2 as one task (the reference for `near_pairs.py` + `near_clusters.py`): clusters
    documents sharing a band and lists all but one per cluster.

    With `threshold` (default), a band collision links two documents only if the exact Jaccard
    similarity of their 5-gram sets reaches it, as codeparrot's and bigcode-analysis's near-dedup
    scripts check their clusters (`find_extremes`). bigcode-dataset's later script trusts the
    bands, which link pairs at Jaccard 0.5 one time in 40 and so drop files that are not
    near-duplicates. The texts of colliding documents come from stage 1's text store; their sets
    (8 bytes a distinct 5-gram) are held in memory, as are every document's band hashes and keys
    (~500 bytes a document): at The Stack's size this needs hundreds of GB, hence the split
    stages. `threshold=None` trusts the bands."""

    type = "🫂 - DEDUPS"
    name = "near dedup finder"

    def __init__(self, folder: DataFolderLike, threshold: float | None = 0.7, ngram: int = 5):
        super().__init__()
        self.folder = get_datafolder(folder)
        self.threshold, self.ngram = threshold, ngram

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("NearDuplicateFinder must run as a single task")
        for _ in data or ():  # steps before it in the stage (the exact finder) run first
            pass
        exact = set(read_duplicate_ids(self.folder, DUPLICATES_FILE)) if self.folder.exists(DUPLICATES_FILE) else set()
        stores = RankStore.open_all(self.folder)
        keys: list[tuple[str, int, str]] = []
        matrices = []
        for store in stores:
            matrices.append(store.band_matrix())
            keys.extend(store.all_keys())
        shingles = None
        if self.threshold is not None:
            wanted = candidate_ids(keys, matrices, exact)
            with self.track_time():
                shingles = {}
                row = 0
                for store, matrix in zip(stores, matrices):
                    for r in range(len(matrix)):
                        doc_id = keys[row + r][0]
                        if doc_id in wanted:
                            flat, _ = shingle_hashes([store.text(r)], self.ngram)
                            shingles[doc_id] = np.unique(flat)
                    row += len(matrix)
                    store.close()
            self.stat_update("verified_documents", value=len(shingles))
        with self.track_time():
            duplicates = find_near_duplicates(keys, matrices, exact, shingles, self.threshold or 0.0)
        write_duplicates(self.folder, NEAR_DUPLICATES_FILE, duplicates)
        self.stat_update("signatures", value=len(keys))
        self.stat_update("near_duplicates", value=len(duplicates))
        return
        yield


def _live(keys: list[tuple[str, int, str]], matrices: list[np.ndarray], skip) -> tuple[np.ndarray, list]:
    band = np.concatenate(matrices) if matrices else np.zeros((0, 1), dtype=np.uint64)
    if skip:
        live = np.array([k[0] not in skip for k in keys], dtype=bool)
        band, keys = band[live], [k for k, ok in zip(keys, live) if ok]
    return band, keys


def _buckets(band: np.ndarray):
    """Row indices sharing a band value (groups of two or more), band by band."""
    for b in range(band.shape[1]):
        order = np.argsort(band[:, b], kind="stable")
        col = band[order, b]
        starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
        sizes = np.diff(np.r_[starts, len(col)])
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1]):
            yield np.sort(order[start:start + size])


def candidate_ids(keys: list[tuple[str, int, str]], matrices: list[np.ndarray], skip: set[str] = frozenset()
                  ) -> set[str]:
    """Ids of the documents sharing at least one band with another (those verification must read)."""
    band, keys = _live(keys, matrices, skip)
    hit = np.zeros(len(keys), dtype=bool)
    for bucket in _buckets(band):
        hit[bucket] = True
    return {keys[i][0] for i in np.flatnonzero(hit)}


def find_near_duplicates(keys: list[tuple[str, int, str]], matrices: list[np.ndarray],
                         skip: set[str] = frozenset(), shingles: dict[str, np.ndarray] | None = None,
                         threshold: float = 0.0) -> list[tuple[str, str]]:
    """Sorted (id, kept id) for every document to drop. `keys[i]` = (id, stars, updated) of row i.
    Without `shingles` every band collision links two documents; with them (id -> sorted distinct
    n-gram hashes), only collisions whose exact Jaccard reaches `threshold`. Clusters are the
    connected components either way, so the result does not depend on the order of rows."""
    band, keys = _live(keys, matrices, skip)
    n = len(keys)
    if n < 2:
        return []
    parent = np.arange(n)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return int(root)

    failed: set[tuple[int, int]] = set()

    def similar(i: int, j: int) -> bool:
        if shingles is None:
            return True
        pair = (min(i, j), max(i, j))
        if pair in failed:
            return False
        if jaccard(shingles[keys[i][0]], shingles[keys[j][0]]) >= threshold:
            return True
        failed.add(pair)
        return False

    for bucket in _buckets(band):
        groups: dict[int, list[int]] = {}  # root -> this bucket's members in that component so far
        for i in bucket.tolist():
            ri = find(i)
            joined = groups.pop(ri, [])
            for root in list(groups):
                if any(similar(i, j) for j in groups[root]):
                    joined += groups.pop(root)
                    parent[max(ri, root)] = min(ri, root)
                    ri = min(ri, root)
            joined.append(i)
            groups[ri] = joined
    labels = np.array([find(i) for i in range(n)])
    sizes = np.bincount(labels, minlength=n)
    members_of: dict[int, list[int]] = {}
    for i in np.flatnonzero(sizes[labels] > 1):
        members_of.setdefault(int(labels[i]), []).append(int(i))
    duplicates = []
    for rows in members_of.values():
        # most stars, then newest, then smallest id
        best = min(rows, key=lambda i: keeper_key(keys[i]))
        duplicates.extend((keys[i][0], keys[best][0]) for i in rows if i != best)
    return sorted(duplicates)
