"""Attribution benchmark: query latency and quality of a built index, one JSON line last.

    python bench/attribution.py INDEX_DIR --corpus STDLIB_DIR --unseen SITE_PACKAGES_DIR [-n 1000]

Half the snippets are taken verbatim (300 bytes of ASCII-aligned text at a random offset) from
the corpus the index was built from, half from code the index never saw (e.g. third-party
packages). Prints p50/p95 latency of membership, exact match, search and the whole check;
recall@1 of the true source file (top exact match, else top search hit) on the verbatim half;
the share of unseen snippets' n-grams the Bloom filters claim (an upper bound on its false-
positive rate: shared boilerplate counts too); and a brute-force substring scan over every file
as the baseline for exact match.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from attribution.attributor import Attributor
from attribution.bloom import is_repetitive, stable_hash


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("--corpus", type=Path, required=True, help="the folder the index was built from")
    ap.add_argument("--unseen", type=Path, required=True, help="code not in the index")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--brute", type=int, default=20, help="snippets answered by brute-force scan")
    args = ap.parse_args(argv)
    rng = random.Random(0)
    skip = {"site-packages", "__pycache__"}
    corpus = sorted(p for p in args.corpus.rglob("*.py") if not skip & set(p.relative_to(args.corpus).parts))
    unseen = sorted(p for p in args.unseen.rglob("*.py") if "__pycache__" not in p.parts)
    verbatim = sample(corpus, args.n // 2, args.size, rng)
    others = sample(unseen, args.n - args.n // 2, args.size, rng)

    att = Attributor(args.index_dir)
    times: dict[str, list[float]] = {"membership": [], "exact": [], "search": [], "check": []}
    exact_v: list[float] = []
    exact_u: list[float] = []
    hits1 = 0
    scores_v, scores_u = [], []
    for i, (path, snippet) in enumerate(verbatim + others):
        t0 = time.perf_counter()
        score = att.membership.score(snippet)
        t1 = time.perf_counter()
        spans = att.matcher.spans(snippet.encode("utf-8"))
        t2 = time.perf_counter()
        att.searcher.search(snippet)
        t3 = time.perf_counter()
        result = att.check(snippet)
        t4 = time.perf_counter()
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[key].append(dt)
        (exact_v if i < len(verbatim) else exact_u).append(t2 - t1)
        del spans
        if i < len(verbatim):
            scores_v.append(score)
            rel = Path(path).relative_to(args.corpus).as_posix()
            top = result["exact"][0]["id"] if result["exact"] else (result["search"][0]["id"] if result["search"] else None)
            hits1 += top == rel
        else:
            scores_u.append(score)
    claimed = total = 0
    for _, snippet in others:
        for j in range(len(snippet) - att.cfg.bloom.ngram + 1):
            gram = snippet[j:j + att.cfg.bloom.ngram]
            if is_repetitive(gram, att.cfg.bloom):
                continue
            key = stable_hash(gram)
            total += 1
            claimed += any(key in f for f in att.membership.filters)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in corpus]
    brute = []
    for _, snippet in verbatim[: args.brute]:
        t0 = time.perf_counter()
        _ = [k for k, t in enumerate(texts) if snippet in t]
        brute.append(time.perf_counter() - t0)
    result = {
        "snippets": len(verbatim) + len(others), "snippet_bytes": args.size,
        **{f"{k}_p50_ms": pct(v, 50) for k, v in times.items()},
        **{f"{k}_p95_ms": pct(v, 95) for k, v in times.items()},
        "exact_verbatim_p95_ms": pct(exact_v, 95), "exact_unseen_p95_ms": pct(exact_u, 95),
        "brute_force_exact_p50_ms": pct(brute, 50),
        "recall_at_1": round(hits1 / len(verbatim), 4),
        "membership_verbatim_min": round(min(scores_v), 4),
        "membership_verbatim_ge_0.5": round(sum(s >= 0.5 for s in scores_v) / len(scores_v), 4),
        "membership_unseen_mean": round(float(np.mean(scores_u)), 4),
        "membership_unseen_ge_0.5": round(sum(s >= 0.5 for s in scores_u) / len(scores_u), 4),
        "bloom_fpr": round(claimed / max(total, 1), 5),
    }
    for key, value in result.items():
        print(f"{key:32s} {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
