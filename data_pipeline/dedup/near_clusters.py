"""Stage 2b of near dedup (one task): clusters the verified links of every pair task and lists
all but one file per cluster, with StarCoder's keeper rule (`minhash.keeper_key`).

Memory is proportional to the number of linked documents, not of documents: the links are
read as uint64 row pairs, clustered with scipy's connected components over the rows that occur
in them, and only those rows' keys are read back from each stage-1 folder's `keys.jsonl`.
"""

from __future__ import annotations

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from data_pipeline.dedup.exact import write_duplicates
from data_pipeline.dedup.minhash import NEAR_DUPLICATES_FILE, keeper_key
from data_pipeline.dedup.near_pairs import PAIRS_FOLDER
from data_pipeline.dedup.signature_store import RankStore


def read_links(folder) -> np.ndarray:
    """uint64 [links, 2] from every pair task's file."""
    parts = []
    if folder.exists(PAIRS_FOLDER):
        for name in folder.list_files(PAIRS_FOLDER, glob_pattern="*.u64"):
            with folder.open(name, "rb") as f:
                parts.append(np.frombuffer(f.read(), dtype="<u8").reshape(-1, 2))
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.uint64)


def cluster_links(links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct rows, component label of each): connected components of the links."""
    rows, inverse = np.unique(links, return_inverse=True)
    inverse = inverse.reshape(links.shape)
    n = len(rows)
    graph = coo_matrix((np.ones(len(links), dtype=np.int8), (inverse[:, 0], inverse[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return rows, labels


class NearDuplicateClusters(PipelineStep):
    """Stage 2b (one task): `near_duplicates.jsonl` from the pair tasks' links."""

    type = "🫂 - DEDUPS"
    name = "near dedup finder"

    def __init__(self, folder: DataFolderLike):
        super().__init__()
        self.folder = get_datafolder(folder)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("NearDuplicateClusters must run as a single task")
        for _ in data or ():
            pass
        with self.track_time():
            duplicates = near_duplicates(self.folder, read_links(self.folder))
        write_duplicates(self.folder, NEAR_DUPLICATES_FILE, duplicates)
        self.stat_update("signatures", value=sum(s.docs for s in RankStore.open_all(self.folder)))
        self.stat_update("near_duplicates", value=len(duplicates))
        return
        yield


def near_duplicates(folder, links: np.ndarray) -> list[tuple[str, str]]:
    """Sorted (id, kept id) of every linked document but its cluster's keeper."""
    if not len(links):
        return []
    rows, labels = cluster_links(links)
    stores = RankStore.open_all(folder)
    keys: list = [None] * len(rows)
    store_of = (rows >> np.uint64(32)).astype(np.int64)
    for i in np.unique(store_of).tolist():
        at = np.flatnonzero(store_of == i)  # rows are sorted, so these are in row order
        local = (rows[at] & np.uint64(0xFFFFFFFF)).astype(np.int64)
        for k, (_, key) in zip(at.tolist(), stores[i].keys(local)):
            keys[k] = key
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True])
    duplicates = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        members = order[lo:hi].tolist()
        best = min(members, key=lambda k: keeper_key(keys[k]))
        duplicates.extend((keys[k][0], keys[best][0]) for k in members if k != best)
    return sorted(duplicates)
