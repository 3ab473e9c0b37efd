"""`python -m bench.dedup_scale`: does a near-dedup pair task's memory stay flat as the corpus
grows? Per-task peak RSS and time of the split stage 2, and the one-process finder's fit.

For each size (1M, 4M, 16M documents; `--quick`: 20K, 80K) it writes synthetic stage-1 outputs
in the real layout (`data_pipeline/dedup/signature_store.py`, ranks of `--rank-docs` rows):
- background documents: random band hashes (they collide with nothing, as distinct files);
  their signature rows are a sparse hole and their texts empty, since nothing reads them;
- planted families (`--planted` of the documents): a random text of 300 tokens, 1-4 near
  copies (1 or 2 tokens replaced: 5-gram Jaccard 0.93-0.97 to it) and, for half of them, a
  decoy (15 tokens replaced: Jaccard ~0.64, which shares a band about one time in four and
  must then be rejected by the check). Their signatures are computed by the real code from their texts, which go in the
  text store.
Then it runs the pair stage as 1, 4 and 16 tasks, one after the other, each task in a fresh
child process that reports its own peak RSS (VmHWM: `getrusage`'s maxrss keeps the parent's
across exec), then the clustering task. Truth: the
connected components of the planted pairs whose exact 5-gram Jaccard reaches 0.7, with the
keeper rule; recall and precision are over the removed sets.

`single_task_extrapolated_gb_at_600M`: the one-process finder (`single_task.py`, bands only:
the exact check adds its 5-gram sets on top) is run in a child at the two smallest sizes, its
peak RSS fitted as a + b * docs and read at 600M documents.

Heavy at full size (about 6 GB of disk for 16M documents, written and deleted size by size):
run it under `flock /tmp/starforge-bench.lock`. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

NGRAM, THRESHOLD, TOKENS = 5, 0.7, 300


def say(*parts) -> None:
    print(*parts, flush=True)


def _tokens(rng: np.random.Generator, vocab: int = 50_000) -> np.ndarray:
    return rng.integers(0, vocab, size=TOKENS)


def _edit(tokens: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` tokens, at distinct places, replaced by tokens the base never uses."""
    out = tokens.copy()
    at = rng.choice(len(out), size=count, replace=False)
    out[at] = rng.integers(50_000, 100_000, size=count)
    return out


def _text(tokens: np.ndarray) -> str:
    return " ".join(f"t{t}" for t in tokens.tolist())


def plant(docs: int, planted: float, seed: int) -> tuple[dict[int, str], dict[int, int]]:
    """({row: text} of the planted documents, {row: family}) at random global rows."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    family: list[int] = []
    f = 0
    while len(texts) < docs * planted:
        base = _tokens(rng)
        members = [base] + [_edit(base, rng, int(rng.integers(1, 3))) for _ in range(int(rng.integers(1, 5)))]
        if rng.random() < 0.5:
            members.append(_edit(base, rng, 15))
        texts.extend(_text(m) for m in members)
        family.extend([f] * len(members))
        f += 1
    rows = np.sort(rng.choice(docs, size=len(texts), replace=False))
    perm = rng.permutation(len(texts))  # families scattered over ranks
    return ({int(rows[k]): texts[perm[k]] for k in range(len(texts))},
            {int(rows[k]): family[perm[k]] for k in range(len(texts))})


def key_of(row: int) -> list:
    """A document's keeper key: a few stars and dates, so the keeper rule has work."""
    return [f"doc/{row:010d}", (row * 7919) % 5, ("", "2021-01-01T00:00:00Z", "2024-01-01T00:00:00Z")[row % 3]]


def write_synthetic(folder: Path, docs: int, rank_docs: int, texts: dict[int, str], seed: int) -> None:
    """Stage-1 folders in the real layout (what `MinHashSignature` writes)."""
    from datatrove.io import get_datafolder

    from data_pipeline.dedup.minhash import band_hashes, minhash_signatures
    from data_pipeline.dedup.signature_store import PARTITION_BITS, write_bands

    rng = np.random.default_rng(seed + 1)
    df = get_datafolder(str(folder))
    rows = np.array(sorted(texts), dtype=np.int64)
    for rank, lo in enumerate(range(0, docs, rank_docs)):
        hi = min(docs, lo + rank_docs)
        n = hi - lo
        d = folder / "minhash" / f"{rank:05d}"
        d.mkdir(parents=True)
        mine = rows[(rows >= lo) & (rows < hi)]
        chunks = [minhash_signatures([texts[int(r)] for r in mine[i:i + 2000]], ngram=NGRAM)[0]
                  for i in range(0, len(mine), 2000)]  # ~4 MB of text a call, as stage 1's batches
        sigs = np.concatenate(chunks) if chunks else np.zeros((0, 256), dtype=np.uint32)
        matrix = rng.integers(0, 2**64 - 1, size=(n, 25), dtype=np.uint64, endpoint=True)
        matrix[mine - lo] = band_hashes(sigs)
        write_bands(df, f"minhash/{rank:05d}", matrix, PARTITION_BITS)
        del matrix
        with open(d / "signatures.u32", "wb") as f:
            f.truncate(n * 256 * 4)  # a sparse hole: background rows are never read
        sig_file = np.memmap(d / "signatures.u32", dtype="<u4", mode="r+", shape=(n, 256))
        sig_file[mine - lo] = sigs
        sig_file.flush()
        del sig_file
        lengths = np.zeros(n, dtype=np.uint64)
        with open(d / "texts.bin", "wb") as f:
            for r in mine.tolist():
                encoded = texts[r].encode()
                f.write(encoded)
                lengths[r - lo] = len(encoded)
        np.concatenate([[0], np.cumsum(lengths)]).astype("<u8").tofile(d / "text_offsets.u64")
        np.arange(n, dtype="<u4").tofile(d / "positions.u32")
        with open(d / "keys.jsonl", "wb") as f:
            for start in range(lo, hi, 100_000):
                f.write(b"".join(orjson.dumps(key_of(r)) + b"\n" for r in range(start, min(hi, start + 100_000))))
        (d / "meta.json").write_bytes(orjson.dumps({"docs": n, "bands": 25, "rows": 10, "num_perm": 256,
                                                    "partition_bits": PARTITION_BITS, "texts": True}))


def truth(texts: dict[int, str], family: dict[int, int], rank_docs: int) -> set[str]:
    """Ids that exact near dedup removes: components of planted pairs at Jaccard >= 0.7, keeper rule."""
    from data_pipeline.dedup.minhash import jaccard, keeper_key, shingle_hashes

    by_family: dict[int, list[int]] = {}
    for row, f in family.items():
        by_family.setdefault(f, []).append(row)
    removed = set()
    for rows in by_family.values():
        sets = {r: np.unique(shingle_hashes([texts[r]], NGRAM)[0]) for r in rows}
        parent = {r: r for r in rows}

        def find(x, parent=parent):
            while parent[x] != x:
                x = parent[x]
            return x

        for a in rows:
            for b in rows:
                if a < b and jaccard(sets[a], sets[b]) >= THRESHOLD:
                    parent[max(find(a), find(b))] = min(find(a), find(b))
        comps: dict[int, list[int]] = {}
        for r in rows:
            comps.setdefault(find(r), []).append(r)
        for members in comps.values():
            if len(members) > 1:
                best = min(members, key=lambda r: keeper_key(key_of(r)))
                removed.update(key_of(r)[0] for r in members if r != best)
    return removed


def child(argv: list[str]) -> dict:
    """Runs one task in a fresh interpreter; returns its {"peak_rss_mb", "seconds"}."""
    out = subprocess.run([sys.executable, "-m", "bench.dedup_scale", "--child", *argv], capture_output=True,
                         text=True, check=False)
    if out.returncode:
        raise SystemExit(f"child {argv} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_child(args) -> None:
    from data_pipeline.dedup.near_clusters import NearDuplicateClusters
    from data_pipeline.dedup.near_pairs import NearDuplicatePairs
    from data_pipeline.dedup.single_task import NearDuplicateFinder

    kind, folder, rank, world = args.child[0], args.child[1], int(args.child[2]), int(args.child[3])
    started = time.perf_counter()
    if kind == "pairs":
        step = NearDuplicatePairs(folder, THRESHOLD, NGRAM, batch_bytes=args.batch_mb * 1_000_000)
    elif kind == "clusters":
        step = NearDuplicateClusters(folder)
    else:
        step = NearDuplicateFinder(folder, threshold=None)
    for _ in step.run(None, rank, world):
        pass
    seconds = time.perf_counter() - started
    print(json.dumps({"peak_rss_mb": round(peak_rss_mb(), 1), "seconds": round(seconds, 2),
                      "stats": {k: v.total for k, v in step.stats.stats.items()}}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's `getrusage` maxrss survives exec (it keeps the
    forking parent's high-water mark), so read VmHWM, which belongs to this image alone."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def removed_ids(folder: Path) -> set[str]:
    with open(folder / "near_duplicates.jsonl", "rb") as f:
        return {orjson.loads(line)["id"] for line in f}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20K and 80K documents, 1 and 4 tasks (tests, CI)")
    parser.add_argument("--docs", type=int, nargs="*", default=None)
    parser.add_argument("--tasks", type=int, nargs="*", default=None)
    parser.add_argument("--batch-mb", type=int, default=64, help="near_dedup.batch_bytes of the pair tasks (MB)")
    parser.add_argument("--planted", type=float, default=0.01, help="share of documents in planted families")
    parser.add_argument("--rank-docs", type=int, default=500_000, help="documents per stage-1 folder")
    parser.add_argument("--work", type=Path, default=None, help="where to write (default: a temp folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return 0
    docs = args.docs or ([20_000, 80_000] if args.quick else [1_000_000, 4_000_000, 16_000_000])
    tasks = args.tasks or ([1, 4] if args.quick else [1, 4, 16])
    rank_docs = min(args.rank_docs, 10_000) if args.quick else args.rank_docs
    batch_mb = 1 if args.quick else args.batch_mb
    args.batch_mb = batch_mb
    root = Path(tempfile.mkdtemp(prefix="dedup_scale_", dir=args.work))
    peak: dict[str, dict[str, float]] = {}
    seconds: dict[str, dict[str, float]] = {}
    clusters: dict[str, dict[str, float]] = {}
    checks: dict[str, dict[str, dict]] = {}
    single: dict[int, float] = {}
    recall = precision = 1.0
    say(f"dedup_scale: docs {docs}, tasks {tasks}, batch_bytes {batch_mb} MB, planted {args.planted:.1%}, "
        f"{rank_docs} documents per stage-1 folder, cores {os.cpu_count()}")
    say(f"{'docs':>10} {'tasks':>5} {'peak MB/task':>12} {'s/task':>8} {'total s':>8} {'cluster MB':>10} "
        f"{'recall':>7} {'precision':>9}")
    try:
        for n in docs:
            folder = root / f"d{n}"
            texts, family = plant(n, args.planted, args.seed)
            started = time.perf_counter()
            write_synthetic(folder, n, rank_docs, texts, args.seed)
            expected = truth(texts, family, rank_docs)
            say(f"  ({n} documents written in {time.perf_counter() - started:.0f} s; {len(texts)} planted, "
                f"{len(expected)} to remove)")
            if n in docs[:2]:
                single[n] = child(["single", str(folder), "0", "1"])["peak_rss_mb"]
            for t in sorted(tasks, reverse=True):  # the most tasks first: the growth figure needs it
                shutil.rmtree(folder / "near_pairs", ignore_errors=True)
                runs = [child(["pairs", str(folder), str(r), str(t)]) for r in range(t)]
                cluster = child(["clusters", str(folder), "0", "1"])
                got = removed_ids(folder)
                hit = len(got & expected)
                r_, p_ = hit / len(expected) if expected else 1.0, hit / len(got) if got else 1.0
                recall, precision = min(recall, r_), min(precision, p_)
                peak.setdefault(str(n), {})[str(t)] = max(x["peak_rss_mb"] for x in runs)
                seconds.setdefault(str(n), {})[str(t)] = round(max(x["seconds"] for x in runs), 2)
                clusters.setdefault(str(n), {})[str(t)] = cluster["peak_rss_mb"]
                checks.setdefault(str(n), {})[str(t)] = {k: sum(x["stats"].get(k, 0) for x in runs) for k in (
                    "pieces", "buckets", "pairs_checked", "earlier_band", "by_estimate", "by_exact_jaccard", "links")}
                say(f"{n:>10} {t:>5} {peak[str(n)][str(t)]:>12.0f} {seconds[str(n)][str(t)]:>8.1f} "
                    f"{sum(x['seconds'] for x in runs) + cluster['seconds']:>8.1f} {cluster['peak_rss_mb']:>10.0f} "
                    f"{r_:>7.4f} {p_:>9.4f}")
            shutil.rmtree(folder, ignore_errors=True)
            say("partial: " + json.dumps({"peak_rss_mb": peak, "seconds_per_task": seconds,
                                          "cluster_peak_rss_mb": clusters, "single_task_peak_rss_mb": single,
                                          "recall": recall, "precision": precision}))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    (n0, m0), (n1, m1) = sorted(single.items())[:2]
    slope = (m1 - m0) / (n1 - n0)
    extrapolated = (m0 + slope * (600e6 - n0)) / 1024
    say(f"one-process finder (bands only): {m0:.0f} MB at {n0}, {m1:.0f} MB at {n1}: {slope * 2**20:.0f} bytes "
        f"a document; at 600M documents {extrapolated:.0f} GB")
    growth = peak[str(docs[-1])][str(tasks[-1])] / peak[str(docs[0])][str(tasks[0])]
    say(f"per-task growth ({docs[-1]} docs / {tasks[-1]} tasks vs {docs[0]} / {tasks[0]}): {growth:.2f} "
        f"(target <= 1.5); recall {recall:.4f}, precision {precision:.4f} (targets >= 0.99)")
    print(json.dumps({"docs": docs, "tasks": tasks, "batch_bytes": batch_mb * 1_000_000, "peak_rss_mb": peak,
                      "seconds_per_task": seconds, "cluster_peak_rss_mb": clusters, "pair_stats": checks,
                      "per_task_growth": round(growth, 3), "recall": round(recall, 4),
                      "precision": round(precision, 4), "single_task_peak_rss_mb": single,
                      "single_task_bytes_per_doc": round(slope * 1024 * 1024, 1),
                      "single_task_extrapolated_gb_at_600M": round(extrapolated, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
