"""MinHash near-deduplication with StarCoder's settings, as three datatrove blocks.

StarCoder (arXiv 2305.06161 section 3.4, bigcode-dataset `near_deduplication/`): 5-grams of
tokens split on non-identifier characters (`[^A-Za-z_0-9]`), 256 permutations, Jaccard 0.7 as
25 bands x 10 rows, one document kept per cluster. datatrove's stock MinHash lower-cases and
splits words with spaCy; here text is raw and the tokenizer is the code one above.

Speed (bench/data_pipeline.py): shingles are hashed in numpy, not as Python strings. Each batch
of texts is one byte array; identifier runs are tokens; a token's hash is a polynomial hash of
its bytes read off prefix sums (position-free: `(H[end] - H[start]) * P^-start mod 2^64`); a
5-gram's hash folds five token hashes. rensa then computes the 256-permutation signatures from
the flat hash buffer in Rust. Texts with fewer than 5 tokens have no 5-gram and are left to
exact dedup.

    stage 1   `MinHashSignature` (N tasks)       <folder>/minhash/<rank>/ (signature_store.py)
    stage 2a  `NearDuplicatePairs` (M tasks)     <folder>/near_pairs/<rank>.u64: verified links (near_pairs.py,
                                                 pair_verifier.py)
    stage 2b  `NearDuplicateClusters` (1 task)   <folder>/near_duplicates.jsonl {"id", "duplicate_of"}
    stage 3   `NearDuplicateFilter` (N tasks)    drops them with reason `near_duplicate`

Stage 2 ignores documents the exact finder dropped, so exact dedup runs first as in StarCoder,
and documents of different languages never share a bucket (StarCoder deduplicated each
language separately; a notebook's script and structured forms stay apart). Clusters are
connected components of "shares a band (and passes the Jaccard check)"; the kept document is
the one from the repository with most stars (`metadata.stars`), then the newest
(`metadata.updated`, ISO 8601), then the smallest id, so the result does not depend on tasks.
`single_task.py` keeps the one-process finder these stages replace, as their reference.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np
import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep

from data_pipeline.dedup.exact import ListedDuplicateFilter
from data_pipeline.dedup.signature_store import StoreWriter

NEAR_DUPLICATES_FILE = "near_duplicates.jsonl"

_P = 0x100000001B3  # odd: invertible mod 2^64
_P_INV = pow(_P, -1, 2**64)
_K = np.uint64(0x9E3779B97F4A7C15)  # folds token hashes into an n-gram hash, and rows into a band hash
_IDENT = np.zeros(256, dtype=bool)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_":
    _IDENT[_c] = True


@cache
def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2^64 for i < size (uint64 arithmetic wraps, which is the modulus)."""
    pw = np.full(size, _P, dtype=np.uint64)
    pw[0] = 1
    inv = np.full(size, _P_INV, dtype=np.uint64)
    inv[0] = 1
    return np.cumprod(pw), np.cumprod(inv)


def shingle_hashes(texts: list[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 n-gram hashes, row offsets) for `texts`: row i is text i's n-grams of
    identifier tokens, duplicates kept (MinHash ignores them)."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    data = b"\n".join(encoded)
    starts_of_docs = np.zeros(len(encoded), dtype=np.int64)
    if encoded:
        starts_of_docs[1:] = np.cumsum([len(e) + 1 for e in encoded[:-1]])
    b = np.frombuffer(data, dtype=np.uint8)
    size = 1 << max(20, int(len(b)).bit_length())  # powers cached by size class
    pw, inv = _powers(size)
    edges = np.diff(_IDENT[b].astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) < ngram:
        return np.zeros(0, dtype=np.uint64), np.zeros(len(texts) + 1, dtype=np.uint64)
    # sum of (byte + 1) * P^position over each token: reduceat over [start, end) pairs
    weighted = (b.astype(np.uint64) + np.uint64(1)) * pw[: len(b)]
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2], bounds[1::2] = starts, ends
    if bounds[-1] == len(b):  # reduceat indices must be < len: the last token runs to the end
        weighted = np.append(weighted, np.uint64(0))
    tokens = np.add.reduceat(weighted, bounds)[0::2] * inv[starts]
    doc_of_token = np.searchsorted(starts_of_docs, starts, side="right") - 1
    m = len(tokens) - ngram + 1
    grams = tokens[:m].copy()
    for k in range(1, ngram):
        grams = grams * _K + tokens[k:k + m]
    doc_of_gram = doc_of_token[:m]
    valid = doc_of_gram == doc_of_token[ngram - 1:]
    counts = np.bincount(doc_of_gram[valid], minlength=len(texts))
    offsets = np.zeros(len(texts) + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    return np.ascontiguousarray(grams[valid]), offsets


def minhash_signatures(texts: list[str], num_perm: int = 256, ngram: int = 5, seed: int = 42
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 signatures [len(texts), num_perm], bool mask of texts with at least one n-gram)."""
    import rensa

    flat, offsets = shingle_hashes(texts, ngram)
    has_grams = np.diff(offsets) > 0
    if not len(texts):
        return np.zeros((0, num_perm), dtype=np.uint32), has_grams
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, num_perm, seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(texts), num_perm), has_grams


@cache
def _lang_salt(lang: str) -> int:
    return int.from_bytes(hashlib.blake2b(lang.encode(), digest_size=8).digest(), "little")


def band_hashes(signatures: np.ndarray, bands: int = 25, rows: int = 10) -> np.ndarray:
    """uint64 [n, bands]: one hash of each band's `rows` signature values (equal bands, equal hash)."""
    grouped = signatures[:, : bands * rows].reshape(len(signatures), bands, rows).astype(np.uint64)
    out = grouped[:, :, 0].copy()
    for r in range(1, rows):
        out = out * _K + grouped[:, :, r]
    return out


class MinHashSignature(PipelineStep):
    """Stage 1: passes documents on (in order, in batches of about `batch_bytes` of text) and
    writes, per task, the band hashes (sorted, band by band), full signatures, keeper keys and
    (with `store_texts`) texts of its signed documents, laid out as `signature_store.py` says."""

    type = "🫂 - DEDUPS"
    name = "near dedup signatures"

    def __init__(self, output_folder: DataFolderLike, num_perm: int = 256, bands: int = 25, rows: int = 10,
                 ngram: int = 5, seed: int = 42, batch_bytes: int = 4_000_000, store_texts: bool = True):
        super().__init__()
        if bands * rows > num_perm:
            raise ValueError(f"bands x rows ({bands} x {rows}) exceeds num_perm ({num_perm})")
        self.output_folder = get_datafolder(output_folder)
        self.num_perm, self.bands, self.rows, self.ngram, self.seed = num_perm, bands, rows, ngram, seed
        self.batch_bytes, self.store_texts = batch_bytes, store_texts

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        store = StoreWriter(self.output_folder, rank, self.num_perm, self.bands, self.rows, self.store_texts)
        batch: list[Document] = []
        size = seen = 0

        def flush():
            with self.track_time():
                sigs, ok = minhash_signatures([d.text for d in batch], self.num_perm, self.ngram, self.seed)
                signed = [d for d, has in zip(batch, ok) if has]
                # one LSH space per language, as StarCoder deduplicated each language on its own
                salt = np.array([_lang_salt(d.metadata.get("lang", "")) for d in signed], dtype=np.uint64)
                keys = [orjson.dumps([d.id, int(d.metadata.get("stars") or 0), str(d.metadata.get("updated") or "")])
                        for d in signed]
                store.add(keys, seen + np.flatnonzero(ok), sigs[ok],
                          band_hashes(sigs[ok], self.bands, self.rows) ^ salt[:, None], [d.text for d in signed])
            self.stat_update("signed", value=int(ok.sum()))
            self.stat_update("too_short", value=int(len(batch) - ok.sum()))

        for doc in data:
            batch.append(doc)
            size += len(doc.text)
            if size >= self.batch_bytes:
                flush()
                yield from batch
                seen += len(batch)
                batch, size = [], 0
        if batch:
            flush()
            yield from batch
        store.finish()


def shingle_sets(docs, wanted: set[str], ngram: int = 5, batch_bytes: int = 4_000_000) -> dict[str, np.ndarray]:
    """{id: sorted distinct n-gram hashes} of the documents in `docs` whose id is in `wanted`."""
    out: dict[str, np.ndarray] = {}
    batch: list[Document] = []
    size = 0

    def flush():
        flat, offsets = shingle_hashes([d.text for d in batch], ngram)
        for i, doc in enumerate(batch):
            out[doc.id] = np.unique(flat[offsets[i]:offsets[i + 1]])

    for doc in docs:
        if doc.id in wanted and doc.id not in out:
            batch.append(doc)
            size += len(doc.text)
            if size >= batch_bytes:
                flush()
                batch, size = [], 0
    if batch:
        flush()
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted distinct hash arrays."""
    common = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - common
    return common / union if union else 0.0


def keeper_key(key) -> tuple:
    """StarCoder's keeper rule as a sort key over (id, stars, updated): most stars, then newest,
    then the smallest id (so the result does not depend on tasks)."""
    return -key[1], _desc(key[2]), key[0]


def _desc(text: str) -> tuple[int, ...]:
    """Sort key putting later ISO timestamps first ("" = unknown, last)."""
    return tuple(-ord(c) for c in text) + (1,) if text else (2,)


class NearDuplicateFilter(ListedDuplicateFilter):
    """Stage 3: drops the documents the finder listed, with reason `near_duplicate` and
    `duplicate_of` naming the kept one."""

    name = "near_dedup"
    file = NEAR_DUPLICATES_FILE
    reason = "near_duplicate"
    required = False
