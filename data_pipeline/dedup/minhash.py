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

    stage 1 `MinHashSignature` (N tasks)    <folder>/minhash/<rank>.npy (band hashes) + .jsonl (id, stars, updated)
    stage 2 `NearDuplicateFinder` (1 task)  <folder>/near_duplicates.jsonl  {"id", "duplicate_of"}
    stage 3 `NearDuplicateFilter` (N tasks) drops them with reason `near_duplicate`

Stage 2 ignores documents its exact finder already dropped, so exact dedup runs first as in
StarCoder, and documents of different languages never share a bucket (StarCoder deduplicated
each language separately; a notebook's script and structured forms stay apart). Clusters are connected components of "shares a band"; the kept document is the
one from the repository with most stars (`metadata.stars`), then the newest
(`metadata.updated`, ISO 8601), then the smallest id, so the result does not depend on tasks.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np
import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep

from data_pipeline.dedup.exact import DUPLICATES_FILE, ListedDuplicateFilter, read_duplicate_ids, write_duplicates

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
    writes their band hashes and keeper keys for the finder."""

    type = "🫂 - DEDUPS"
    name = "near dedup signatures"

    def __init__(self, output_folder: DataFolderLike, num_perm: int = 256, bands: int = 25, rows: int = 10,
                 ngram: int = 5, seed: int = 42, batch_bytes: int = 4_000_000):
        super().__init__()
        if bands * rows > num_perm:
            raise ValueError(f"bands x rows ({bands} x {rows}) exceeds num_perm ({num_perm})")
        self.output_folder = get_datafolder(output_folder)
        self.num_perm, self.bands, self.rows, self.ngram, self.seed = num_perm, bands, rows, ngram, seed
        self.batch_bytes = batch_bytes

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        keys: list[bytes] = []
        hashes: list[np.ndarray] = []
        batch: list[Document] = []
        size = 0

        def flush():
            with self.track_time():
                sigs, ok = minhash_signatures([d.text for d in batch], self.num_perm, self.ngram, self.seed)
                # one LSH space per language, as StarCoder deduplicated each language on its own
                salt = np.array([_lang_salt(d.metadata.get("lang", "")) for d, has in zip(batch, ok) if has],
                                dtype=np.uint64)
                hashes.append(band_hashes(sigs[ok], self.bands, self.rows) ^ salt[:, None])
                for doc, has in zip(batch, ok):
                    if has:
                        meta = doc.metadata
                        keys.append(orjson.dumps([doc.id, int(meta.get("stars") or 0), str(meta.get("updated") or "")]))
            self.stat_update("signed", value=int(ok.sum()))
            self.stat_update("too_short", value=int(len(batch) - ok.sum()))

        for doc in data:
            batch.append(doc)
            size += len(doc.text)
            if size >= self.batch_bytes:
                flush()
                yield from batch
                batch, size = [], 0
        if batch:
            flush()
            yield from batch
        matrix = np.concatenate(hashes) if hashes else np.zeros((0, self.bands), dtype=np.uint64)
        with self.output_folder.open(f"minhash/{rank:05d}.npy", "wb") as f:
            np.save(f, matrix)
        with self.output_folder.open(f"minhash/{rank:05d}.jsonl", "wb") as f:
            f.write(b"".join(k + b"\n" for k in keys))


class NearDuplicateFinder(PipelineStep):
    """Stage 2 (one task): clusters documents sharing a band and lists all but one per cluster.

    With `threshold` (default), a band collision links two documents only if the exact Jaccard
    similarity of their 5-gram sets reaches it, as codeparrot's and bigcode-analysis's near-dedup
    scripts check their clusters (`find_extremes`). bigcode-dataset's later script trusts the
    bands, which link pairs at Jaccard 0.5 one time in 40 and so drop files that are not
    near-duplicates. The texts come from `texts`, a reader of stage 1's output, read only when
    something collides; only colliding documents are hashed, and their sets (8 bytes a distinct
    5-gram) are held in memory. `threshold=None` trusts the bands."""

    type = "🫂 - DEDUPS"
    name = "near dedup finder"

    def __init__(self, folder: DataFolderLike, threshold: float | None = 0.7, ngram: int = 5,
                 texts: PipelineStep | None = None, batch_bytes: int = 4_000_000):
        super().__init__()
        if threshold is not None and texts is None:
            raise ValueError("NearDuplicateFinder: a threshold needs `texts`, a reader of the signed documents")
        self.folder = get_datafolder(folder)
        self.threshold, self.ngram, self.texts, self.batch_bytes = threshold, ngram, texts, batch_bytes

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("NearDuplicateFinder must run as a single task")
        for _ in data or ():  # steps before it in the stage (the exact finder) run first
            pass
        exact = set(read_duplicate_ids(self.folder, DUPLICATES_FILE)) if self.folder.exists(DUPLICATES_FILE) else set()
        keys: list[tuple[str, int, str]] = []
        matrices = []
        for name in self.folder.list_files("minhash", glob_pattern="*.npy"):
            with self.folder.open(name, "rb") as f:
                matrices.append(np.load(f))
            with self.folder.open(name.removesuffix(".npy") + ".jsonl", "rb") as f:
                keys.extend(tuple(orjson.loads(line)) for line in f)
        shingles = None
        if self.threshold is not None:
            wanted = candidate_ids(keys, matrices, exact)
            with self.track_time():
                docs = self.texts.run(None, 0, 1) if wanted else ()
                shingles = shingle_sets(docs, wanted, self.ngram, self.batch_bytes)
            missing = wanted - shingles.keys()
            if missing:
                raise ValueError(f"near dedup: {len(missing)} colliding documents (e.g. {min(missing)!r}) are not "
                                 "in the finder's `texts`; give it a reader of the signed documents")
            self.stat_update("verified_documents", value=len(shingles))
        with self.track_time():
            duplicates = find_near_duplicates(keys, matrices, exact, shingles, self.threshold or 0.0)
        write_duplicates(self.folder, NEAR_DUPLICATES_FILE, duplicates)
        self.stat_update("signatures", value=len(keys))
        self.stat_update("near_duplicates", value=len(duplicates))
        return
        yield


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
        best = min(rows, key=lambda i: (-keys[i][1], _desc(keys[i][2]), keys[i][0]))
        duplicates.extend((keys[i][0], keys[best][0]) for i in rows if i != best)
    return sorted(duplicates)


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
