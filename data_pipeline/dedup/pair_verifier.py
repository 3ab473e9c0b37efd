"""How a pair task decides whether two documents sharing a band hash are linked (near_pairs.py):
from their full signatures, and, near the threshold, from their texts."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from data_pipeline.dedup.minhash import jaccard, shingle_hashes
from starforge.errors import FormatError

SMALL_BUCKET = 32
"""Buckets up to this size have all their pairs judged at once (numpy); larger ones are walked
lazily, testing a member only against parts not yet joined (k - 1 tests for k copies)."""
NO, LINK, EXACT = 0, 1, 2



class SetCache:
    """5-gram sets by global row, least recently used dropped past `budget` bytes; one per pair
    task, so a document colliding in several of its bands is read and hashed once."""

    def __init__(self, budget: int):
        self.budget, self.size = budget, 0
        self.sets: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, row: int) -> np.ndarray | None:
        grams = self.sets.get(row)
        if grams is not None:
            self.sets.move_to_end(row)
        return grams

    def add(self, row: int, grams: np.ndarray) -> None:
        self.sets[row] = grams
        self.size += grams.nbytes
        while self.size > self.budget and len(self.sets) > 1:
            _, old = self.sets.popitem(last=False)
            self.size -= old.nbytes


class PairVerifier:
    """Decides a link from the two documents' signatures and, near the threshold, their texts.
    Signatures are fetched per chunk of buckets (at most `batch_bytes` / 4 of them); 5-gram sets
    are cached up to `batch_bytes` / 4."""

    def __init__(self, stores, band: int, threshold: float, margin: float, ngram: int, batch_bytes: int,
                 sets: SetCache | None = None):
        self.stores, self.band, self.threshold, self.margin, self.ngram = stores, band, threshold, margin, ngram
        meta = stores[0].meta
        self.rows_per_band, self.num_perm = meta["rows"], meta["num_perm"]
        self.sig_budget = max(1, batch_bytes // 4 // (4 * self.num_perm))
        self.sets = sets if sets is not None else SetCache(batch_bytes // 4)
        self.counts = {"pairs_checked": 0, "earlier_band": 0, "by_estimate": 0, "by_exact_jaccard": 0, "linked": 0}

    def chunks(self, buckets):
        """Groups of buckets whose signatures fit the budget; loads them before yielding."""
        chunk, size = [], 0
        for bucket in buckets:
            if chunk and size + len(bucket) > self.sig_budget:
                self._load(chunk)
                yield chunk
                chunk, size = [], 0
            chunk.append(bucket)
            size += len(bucket)
        if chunk:
            self._load(chunk)
            yield chunk

    def _load(self, chunk: list[np.ndarray]) -> None:
        rows = np.unique(np.concatenate(chunk))
        sigs = np.empty((len(rows), self.num_perm), dtype=np.uint32)
        store_of = (rows >> np.uint64(32)).astype(np.int64)
        for i in np.unique(store_of).tolist():
            at = np.flatnonzero(store_of == i)
            sigs[at] = self.stores[i].signatures((rows[at] & np.uint64(0xFFFFFFFF)).astype(np.int64))
        self.rows, self.sigs = rows, sigs

    def decide(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """NO, LINK or EXACT (the estimate is within `margin`: read the texts) for each pair, in
        batches of 4,096 pairs (8 MB of signature copies)."""
        out = np.empty(len(first), dtype=np.int8)
        b, r = self.band, self.rows_per_band
        for lo in range(0, len(first), 4096):
            a = self.sigs[np.searchsorted(self.rows, first[lo:lo + 4096])]
            c = self.sigs[np.searchsorted(self.rows, second[lo:lo + 4096])]
            equal = a == c
            early = equal[:, : b * r].reshape(len(a), b, r).all(axis=2).any(axis=1) if b else np.zeros(len(a), bool)
            estimate = equal.mean(axis=1)
            decided = np.abs(estimate - self.threshold) > self.margin
            out[lo:lo + 4096] = np.where(early, NO, np.where(decided, np.where(estimate > self.threshold, LINK, NO),
                                                              EXACT))
            self.counts["earlier_band"] += int(early.sum())
            self.counts["by_estimate"] += int((decided & ~early).sum())
        self.counts["pairs_checked"] += len(first)
        self.counts["linked"] += int((out == LINK).sum())
        return out

    def exact(self, i: int, j: int) -> bool:
        """The exact Jaccard of the two documents' 5-gram sets reaches the threshold."""
        self.counts["by_exact_jaccard"] += 1
        ok = jaccard(self._set(i), self._set(j)) >= self.threshold
        self.counts["linked"] += ok
        return ok

    def linked(self, i: int, j: int) -> bool:
        """One pair, as `decide` and `exact` together, for the large buckets walked lazily. No
        earlier-band skip here: a skipped pair would leave its parts unjoined and the walk would
        test k^2 pairs of k copies in every band after their first."""
        self.counts["pairs_checked"] += 1
        a = self.sigs[np.searchsorted(self.rows, np.uint64(i))]
        b = self.sigs[np.searchsorted(self.rows, np.uint64(j))]
        estimate = float(np.mean(a == b))
        if abs(estimate - self.threshold) > self.margin:
            self.counts["by_estimate"] += 1
            self.counts["linked"] += estimate > self.threshold
            return estimate > self.threshold
        return self.exact(i, j)

    def _set(self, row: int) -> np.ndarray:
        grams = self.sets.get(row)
        if grams is not None:
            return grams
        store = self.stores[row >> 32]
        if not store.meta.get("texts"):
            raise FormatError(f"near dedup: {store.prefix} has no text store (signed with near_dedup.threshold: "
                              "null); sign again with a threshold, or keep threshold null")
        flat, _ = shingle_hashes([store.text(row & 0xFFFFFFFF)], self.ngram)
        grams = np.unique(flat)
        self.sets.add(row, grams)
        return grams
