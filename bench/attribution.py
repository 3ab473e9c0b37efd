"""Attribution benchmark: index build speed and size, query latency and quality, one JSON line last.

    python -m bench.attribution                                  # builds the index over the demo corpus
    python -m bench.attribution --index INDEX_DIR --corpus DIR   # an index already built from DIR
    flock /tmp/starforge-bench.lock python -m bench.attribution_scale    # 31.5 MB vs 340 MB (also: --scale)

The demo corpus is the one `starforge demo` curates, this interpreter's standard library
(`builtin:stdlib`), here its .py files indexed as a plain folder (configs/attribution/stdlib-py.yaml:
one repository per top-level package), built into runs/bench-attribution/ unless --index is given.
Prints the build's MB/s and index bytes per corpus byte for each structure; then, over 1,000
snippets of 300 bytes, half verbatim from the corpus, half from code the index never saw
(third-party packages), p50/p95 latency of membership, exact match, search and the whole check;
recall@1 of the true source file on the verbatim half; the Bloom filter's false-positive rate on
the unseen half's n-grams; and a brute-force substring scan over every file as the exact-match
baseline.

recall@1 counts a hit when the true file is among the tied top locations: every training place of
the longest exact span (equal-length matches of identical text in several files cannot be told
apart, and any of them is a right answer); `recall_at_1_first_listed` is the stricter share where
the first listed location is the true file. Without an exact match the top search hit counts.
bloom_fpr is measured on unseen n-grams that occur nowhere in the corpus (checked with the
one Aho-Corasick pass over the corpus), so shared boilerplate is not counted as a false positive;
`bloom_claimed_unseen` is the raw share of unseen-snippet n-grams the filter claims.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
from ahocorasick_rs import AhoCorasick

from attribution.attributor import Attributor
from attribution.bloom import is_repetitive, stable_hash
from attribution.config import AttributionConfig
from attribution.index import build_index
from starforge.config import load_config

REPO = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
PURELIB = Path(sysconfig.get_paths()["purelib"])


def sample(files: list[Path], n: int, size: int, rng: random.Random) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    while len(out) < n:
        path = rng.choice(files)
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) < size * 2:
            continue
        start = rng.randrange(0, len(text) - size)
        snippet = text[start:start + size]
        if snippet.strip() and len(snippet.encode("utf-8")) == size:
            out.append((str(path), snippet))
    return out


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(xs) * 1000, q)), 3)


def tied_top_ids(att: Attributor, spans: list) -> set[str]:
    """Ids of the training places of the longest exact span(s): every one up to
    exact.sample_ranks a shard, an even sample beyond (the copies each Span carries)."""
    longest = spans[0].end - spans[0].start
    ids: set[str] = set()
    for span in spans:
        if span.end - span.start != longest:
            break
        for shard, (_, ptrs) in span.shards.items():
            docs = att.matcher.tables[shard].docs_of(ptrs.astype(np.uint64))
            ids.update(att.docs[shard][doc]["id"] for doc in np.unique(docs).tolist())
    return ids


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--scale" in argv:  # the scale bench has options of its own
        from bench import attribution_scale

        scale = argparse.ArgumentParser(prog="python -m bench.attribution --scale")
        attribution_scale.add_args(scale)
        return attribution_scale.main(scale.parse_args([a for a in argv if a != "--scale"]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=None, help="an index built from --corpus (default: build one)")
    ap.add_argument("--corpus", type=Path, default=STDLIB, help="the folder the index is built from")
    ap.add_argument("--unseen", type=Path, default=PURELIB, help="code not in the index")
    ap.add_argument("--output", type=Path, default=REPO / "runs" / "bench-attribution", help="where to build")
    ap.add_argument("--workers", type=int, default=1, help="build.workers when building")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--brute", type=int, default=20, help="snippets answered by brute-force scan")
    ap.add_argument("--scale", action="store_true", help="two corpora 10x apart, shards, server (python -m bench.attribution_scale)")
    args = ap.parse_args(argv)
    build: dict = {}
    if args.index is None:
        shutil.rmtree(args.output, ignore_errors=True)
        cfg = load_config(AttributionConfig, REPO / "configs" / "attribution" / "stdlib-py.yaml",
                          [f"input={args.corpus}", f"output={args.output}", f"build.workers={args.workers}"])
        t0 = time.perf_counter()
        manifest = build_index(cfg)
        wall = time.perf_counter() - t0
        t = manifest["totals"]
        shard = manifest["shards"][0]
        build = {"corpus_mb": round(t["text_bytes"] / 1e6, 2), "corpus_files": t["docs"],
                 "build_s": round(wall, 2), "build_mb_per_s": round(t["text_bytes"] / 1e6 / wall, 2),
                 **{f"build_{k}": v for k, v in shard["times"].items()},
                 "index_bytes_per_corpus_byte": round(t["index_bytes"] / t["text_bytes"], 3),
                 **{f"{k}_bytes_per_corpus_byte": round(v / t["text_bytes"], 4) for k, v in t["bytes"].items()}}
        args.index = args.output
    rng = random.Random(0)
    skip = {"site-packages", "__pycache__"}
    corpus = sorted(p for p in args.corpus.rglob("*.py") if not skip & set(p.relative_to(args.corpus).parts))
    unseen = sorted(p for p in args.unseen.rglob("*.py") if "__pycache__" not in p.parts)
    verbatim = sample(corpus, args.n // 2, args.size, rng)
    others = sample(unseen, args.n - args.n // 2, args.size, rng)

    att = Attributor(args.index)
    times: dict[str, list[float]] = {"membership": [], "exact": [], "search": [], "check": []}
    # CPU time of the process beside wall time: on a shared machine
    # wall time mostly measures the run queue.
    cpu: dict[str, list[float]] = {key: [] for key in times}
    exact_v: list[float] = []
    exact_u: list[float] = []
    hits1 = hits1_first = 0
    scores_v, scores_u = [], []
    for i, (path, snippet) in enumerate(verbatim + others):
        c0, t0 = time.process_time(), time.perf_counter()
        score = att.membership.score(snippet)
        c1, t1 = time.process_time(), time.perf_counter()
        spans = att.matcher.spans(snippet.encode("utf-8"))
        c2, t2 = time.process_time(), time.perf_counter()
        att.searcher.search(snippet)
        c3, t3 = time.process_time(), time.perf_counter()
        result = att.check(snippet)
        c4, t4 = time.process_time(), time.perf_counter()
        for key, dt, dc in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), (c1 - c0, c2 - c1, c3 - c2, c4 - c3)):
            times[key].append(dt)
            cpu[key].append(dc)
        (exact_v if i < len(verbatim) else exact_u).append(t2 - t1)
        if i < len(verbatim):
            scores_v.append(score)
            rel = Path(path).relative_to(args.corpus).as_posix()
            top = result["exact"][0]["id"] if result["exact"] else (result["search"][0]["id"] if result["search"] else None)
            hits1_first += top == rel
            hits1 += (rel in tied_top_ids(att, spans)) if spans else top == rel
        else:
            scores_u.append(score)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in corpus]
    grams = [snippet[j:j + att.cfg.bloom.ngram] for _, snippet in others
             for j in range(len(snippet) - att.cfg.bloom.ngram + 1)]
    grams = [g for g in grams if not is_repetitive(g, att.cfg.bloom)]
    # Which n-grams occur anywhere in the corpus: one Aho-Corasick pass over its files (the anchor
    # suffix array answers only spans of exact.min_len bytes or more).
    automaton = AhoCorasick(sorted(set(grams)))
    seen = {i for t in texts for i, _, _ in automaton.find_matches_as_indexes(t, overlapping=True)}
    present = {g for i, g in enumerate(sorted(set(grams))) if i in seen}
    claimed = total = absent = claimed_absent = 0
    for gram in grams:
        hit = any(stable_hash(gram) in f for f in att.membership.filters)
        total += 1
        claimed += hit
        if gram not in present:  # nowhere in the corpus
            absent += 1
            claimed_absent += hit
    brute, brute_cpu = [], []
    for _, snippet in verbatim[: args.brute]:
        c0, t0 = time.process_time(), time.perf_counter()
        _ = [k for k, t in enumerate(texts) if snippet in t]
        brute.append(time.perf_counter() - t0)
        brute_cpu.append(time.process_time() - c0)
    brute_p50 = pct(brute, 50)
    result = {
        **build,
        "snippets": len(verbatim) + len(others), "snippet_bytes": args.size,
        **{f"{k}_p50_ms": pct(v, 50) for k, v in times.items()},
        **{f"{k}_p95_ms": pct(v, 95) for k, v in times.items()},
        **{f"{k}_cpu_p50_ms": pct(v, 50) for k, v in cpu.items()},
        **{f"{k}_cpu_p95_ms": pct(v, 95) for k, v in cpu.items()},
        "load_average_1min": round(os.getloadavg()[0], 1),
        "exact_verbatim_p95_ms": pct(exact_v, 95), "exact_unseen_p95_ms": pct(exact_u, 95),
        "brute_force_exact_p50_ms": brute_p50,
        "brute_force_over_exact_p50": round(brute_p50 / max(pct(times["exact"], 50), 1e-3), 1),
        "brute_force_exact_cpu_p50_ms": pct(brute_cpu, 50),
        "brute_force_over_exact_cpu_p50": round(pct(brute_cpu, 50) / max(pct(cpu["exact"], 50), 1e-3), 1),
        "recall_at_1": round(hits1 / len(verbatim), 4),
        "recall_at_1_counts": "true file among the tied top locations (all places of the longest exact span)",
        "recall_at_1_first_listed": round(hits1_first / len(verbatim), 4),
        "membership_verbatim_min": round(min(scores_v), 4),
        "membership_verbatim_ge_0.5": round(sum(s >= 0.5 for s in scores_v) / len(scores_v), 4),
        "membership_unseen_mean": round(float(np.mean(scores_u)), 4),
        "membership_unseen_ge_0.5": round(sum(s >= 0.5 for s in scores_u) / len(scores_u), 4),
        "bloom_fpr": round(claimed_absent / max(absent, 1), 5),
        "bloom_fpr_ngrams": absent,
        "bloom_fpr_target": att.cfg.bloom.fpr,
        "bloom_claimed_unseen": round(claimed / max(total, 1), 5),
    }
    for key, value in result.items():
        print(f"{key:32s} {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
