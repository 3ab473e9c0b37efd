"""`python -m bench.attribution_scale`: does a query's cost grow with the corpus? One JSON line last.

Builds, in one run, indexes over two corpora about 10x apart: the standard library's .py files
(31.5 MB, one shard) and the .py files of the installed packages (this interpreter's
site-packages, ~340 MB, written as kept shards of `--shard-mb` MB each, the shape `starforge
data` hands over, so the build runs shard by shard as it would at Stack scale). One sampler
draws the snippets of both: 300-byte slices, half verbatim from the indexed corpus, half from
the other corpus (unseen, or seen only in parts). For each index it prints p50/p95 wall time of
membership, exact spans with their places (`spans` + `locations`), search and the whole
`check`, suffix-array lookups and major page faults per query, recall@1 on the verbatim half,
and the build's MB/s and index bytes per corpus byte. Then the same small corpus as 4 and 16
shards (fan-out at the same total size), then `--server-queries` requests to
`starforge attribution serve` on localhost in another process, all in flight at once and from
`--server-clients` client threads. `--fm-index` adds the FM-index alternative (the `fm-index`
package) on the small corpus: build MB/s, bytes per corpus byte, lookup latency.

Heavy (about 10 minutes and 2 GB of disk on a quiet machine): run it under
`flock /tmp/starforge-bench.lock`. Output is flushed line by line. `--shard-mb 400` builds the
large corpus as one shard (the serving layout; slower to build). Over 300 lines because its
sections share one sampler and one set of indexes, and the figures must come from one run.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import resource
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from attribution.attributor import Attributor
from attribution.config import AttributionConfig, ServerConfig
from attribution.corpus import find_shards
from attribution.index import build_index
from starforge.config import load_config

REPO = Path(__file__).resolve().parents[1]


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(xs) * 1000, q)), 3) if xs else 0.0


def stack_config(input_dir: Path, output: Path, overrides: tuple[str, ...] = ()) -> AttributionConfig:
    return load_config(AttributionConfig, REPO / "configs" / "attribution" / "stdlib-py.yaml",
                       [f"input={input_dir}", f"output={output}", *overrides])


def write_kept(root: Path, out: Path, shard_bytes: float) -> list[tuple[str, int]]:
    """The UTF-8 .py files of `root` as kept JSONL shards of about `shard_bytes` of text each;
    returns (id, bytes) of every file written (what the index will hold)."""
    cfg = stack_config(root, out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, int]] = []
    part, size, fh = 0, 0, (out / "00000.jsonl").open("w", encoding="utf-8")
    for f in find_shards(root, cfg.source)[0].files():
        n = len(f.text.encode("utf-8"))
        if size >= shard_bytes:
            fh.close()
            part, size = part + 1, 0
            fh = (out / f"{part:05d}.jsonl").open("w", encoding="utf-8")
        record = {"text": f.text, "id": f.id, "metadata": {"repo": f.repo, "path": f.path, "licence": f.licence,
                                                            "lang": f.lang}}
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        written.append((f.id, n))
        size += n
    fh.close()
    return written


def build(kept: Path, out: Path, reuse: bool = False, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """Build (or with `reuse`, read back the manifest of) the index of a kept folder."""
    if reuse and (out / "manifest.json").is_file():
        manifest = json.loads((out / "manifest.json").read_text())
        wall = manifest["totals"]["build_s"]  # the sum of the shards' build times, not a wall time
    else:
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        manifest = build_index(stack_config(kept, out, overrides))
        wall = time.perf_counter() - t0
    t = manifest["totals"]
    steps: dict[str, float] = {}
    for shard in manifest["shards"]:
        for k, v in shard["times"].items():
            steps[k] = round(steps.get(k, 0.0) + v, 2)
    return {"corpus_mb": round(t["text_bytes"] / 1e6, 2), "files": t["docs"], "shards": len(manifest["shards"]),
            "build_s": round(wall, 1), "build_mb_s": round(t["text_bytes"] / 1e6 / wall, 3),
            "build_steps_s": steps, "index_mb": round(t["index_bytes"] / 1e6, 1),
            "index_bytes_per_byte": round(t["index_bytes"] / t["text_bytes"], 3),
            "bytes_per_byte": {k: round(v / t["text_bytes"], 4) for k, v in t["bytes"].items()}}


def sample(root: Path, files: list[tuple[str, int]], n: int, size: int, rng: random.Random) -> list[tuple[str, str]]:
    """`n` slices of `size` UTF-8 bytes from files of at least 2*size bytes: (id, snippet)."""
    big = [fid for fid, nbytes in files if nbytes >= 2 * size]
    out: list[tuple[str, str]] = []
    while len(out) < n:
        fid = rng.choice(big)
        text = (root / fid).read_text(encoding="utf-8")
        start = rng.randrange(0, len(text) - size)
        snippet = text[start:start + size]
        if snippet.strip() and len(snippet.encode("utf-8")) == size:
            out.append((fid, snippet))
    return out


def query(index: Path, verbatim: list[tuple[str, str]], unseen: list[tuple[str, str]]) -> dict[str, Any]:
    """Latency of each part of a check, lookups and page faults per query, recall@1 (tie-aware)."""
    from bench.attribution import tied_top_ids

    times: dict[str, list[float]] = {"membership": [], "exact": [], "search": [], "check": []}
    finds, faults, asked, tests, exact_v, exact_u = [], [], [], [], [], []
    hits = 0
    cold_faults = _first_pass_faults(index, verbatim + unseen)
    warm_s = _warm(index)
    with Attributor(index) as att:
        for i, (fid, snippet) in enumerate(verbatim + unseen):
            data = snippet.encode("utf-8")
            f0, r0 = att.matcher.finds, resource.getrusage(resource.RUSAGE_SELF).ru_majflt
            a0, n0 = att.matcher.shards_asked, att.matcher.router.tested
            t0 = time.perf_counter()
            att.membership.score(snippet)
            t1 = time.perf_counter()
            spans = att.matcher.spans(data)
            for span in spans:
                att.matcher.locations(span, data)
            t2 = time.perf_counter()
            att.searcher.search(snippet)
            t3 = time.perf_counter()
            result = att.check(snippet)
            t4 = time.perf_counter()
            finds.append((att.matcher.finds - f0) / 2)  # spans() ran twice: timed alone, then in check
            asked.append(att.matcher.shards_asked - a0)
            tests.append(att.matcher.router.tested - n0)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_majflt - r0)
            for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(dt)
            if i < len(verbatim):
                exact_v.append(t2 - t1)
                top = result["exact"][0]["id"] if result["exact"] else None
                hits += (fid in tied_top_ids(att, spans)) if spans else top == fid
            else:
                exact_u.append(t2 - t1)
    out: dict[str, Any] = {f"{k}_p{q}_ms": pct(v, q) for k, v in times.items() for q in (50, 95)}
    out.update({"exact_verbatim_p95_ms": pct(exact_v, 95), "exact_unseen_p95_ms": pct(exact_u, 95),
                "lookups_per_query_mean": round(float(np.mean(finds)), 1), "lookups_per_query_p95": float(np.percentile(finds, 95)),
                "shards_searched_per_query_mean": round(float(np.mean(asked)) / 2, 2),  # spans() ran twice a query
                "anchor_tests_per_query_mean": round(float(np.mean(tests)) / 2, 1),
                "major_faults_per_query_mean": round(float(np.mean(faults)), 2),
                "cold_major_faults_per_query_mean": cold_faults, "warm_read_s": warm_s,
                "recall_at_1": round(hits / max(len(verbatim), 1), 4)})
    return out


def _first_pass_faults(index: Path, snippets: list[tuple[str, str]]) -> float:
    """Major page faults (reads from disk) per exact-span query on an index as it lies on disk."""
    with Attributor(index) as att:
        r0 = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        for _, snippet in snippets:
            data = snippet.encode("utf-8")
            for span in att.matcher.spans(data):
                att.matcher.locations(span, data)
        return round((resource.getrusage(resource.RUSAGE_SELF).ru_majflt - r0) / max(len(snippets), 1), 2)


def _warm(index: Path) -> float:
    """Read every shard's text and suffix array once, as a serving machine holds them in its page
    cache; the timed pass then measures lookups, not the disk (seconds taken returned)."""
    t0 = time.perf_counter()
    for path in sorted(index.glob("shards/*/*.0")) + sorted(index.glob("shards/*/*.npy")):
        with path.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    return round(time.perf_counter() - t0, 2)


def _serve(index: Path, conn: Any, processes: int) -> None:
    from attribution.server import serve

    serve(index, port=0, cfg=ServerConfig(processes=processes), ready=conn.send)


def server_bench(index: Path, snippets: list[str], queries: int, clients: int, processes: int) -> dict[str, Any]:
    """`queries` POSTs to a server in another process (`processes` pre-forked servers): all in
    flight at once, then `clients` at a time."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(index, child, processes), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("attribution server did not start within 120 s")
        url = f"http://127.0.0.1:{parent.recv()}/api/check"
        bodies = [json.dumps({"snippet": snippets[i % len(snippets)]}).encode() for i in range(queries)]
        for body in bodies[:10]:  # warm-up
            _post(url, body)
        out: dict[str, Any] = {}
        for label, width in (("all_at_once", queries), (f"{clients}_clients", clients)):
            lat, errors = _load(url, bodies, width)
            out[label] = {"p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "errors": errors, "queries": queries}
            say(f"  server ({processes} process(es)), {queries} queries, {label}: p50 {out[label]['p50_ms']} ms, p95 {out[label]['p95_ms']} ms, "
                f"errors {errors}")
        return out
    finally:
        proc.terminate()
        proc.join(10)


def _post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _load(url: str, bodies: list[bytes], width: int) -> tuple[list[float], int]:
    """Latencies (s) of every POST, `width` client threads each taking the next body; errors counted."""
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    todo = iter(range(len(bodies)))
    barrier = threading.Barrier(width)

    def client() -> None:
        nonlocal errors
        barrier.wait()
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            t0 = time.perf_counter()
            try:
                ok = _post(url, bodies[i]) == 200
            except OSError:
                ok = False
            with lock:
                lat.append(time.perf_counter() - t0)
                errors += not ok

    threads = [threading.Thread(target=client) for _ in range(width)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, errors


def fm_index_bench(kept_small: Path, index_small: Path, verbatim: list[tuple[str, str]],
                   unseen: list[tuple[str, str]]) -> dict[str, Any]:
    """The `fm-index` package (Rust FM-index) on the small corpus: build, size, count and locate
    latency; and the bytes per corpus byte of an FM-index layout: the FM-index, each file's text
    zlib-compressed apart (excerpts and line numbers need the text; the FM-index cannot extract
    it), and today's Bloom, search and anchor structures."""
    import pickle
    import zlib

    from fm_index import FMIndex

    texts = [json.loads(line)["text"] for p in sorted(kept_small.glob("*.jsonl")) for line in p.open(encoding="utf-8")]
    blob = b"".join(b"\xff" + t.encode("utf-8") for t in texts)
    t0 = time.perf_counter()
    fm = FMIndex(blob.decode("latin-1"))  # one char per byte, so offsets are byte offsets
    build_s = time.perf_counter() - t0
    size = len(pickle.dumps(fm))
    docs_z = sum(len(zlib.compress(t.encode("utf-8"), 6)) for t in texts)
    others = json.loads((index_small / "manifest.json").read_text())["totals"]["bytes"]
    rest = sum(v for k, v in others.items() if k != "exact")
    lat: dict[str, list[float]] = {"whole": [], "probe": [], "locate": []}
    for _, snippet in verbatim + unseen:
        text = snippet.encode("utf-8").decode("latin-1")
        t0 = time.perf_counter()
        fm.count(text)
        lat["whole"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fm.locate(text)
        lat["locate"].append(time.perf_counter() - t0)
        for p in range(0, len(text) - 32 + 1, 32):
            t0 = time.perf_counter()
            fm.count(text[p:p + 32])
            lat["probe"].append(time.perf_counter() - t0)
    n = len(blob)
    return {"corpus_mb": round(n / 1e6, 2), "build_s": round(build_s, 1),
            "build_mb_s": round(n / 1e6 / build_s, 3), "bytes_per_byte": round(size / n, 3),
            "zlib_docs_bytes_per_byte": round(docs_z / n, 3),
            "layout_bytes_per_byte": round((size + docs_z + rest) / n, 3),
            "count_300b_p50_ms": pct(lat["whole"], 50), "count_300b_p95_ms": pct(lat["whole"], 95),
            "locate_300b_p50_ms": pct(lat["locate"], 50), "locate_300b_p95_ms": pct(lat["locate"], 95),
            "count_32b_p50_ms": pct(lat["probe"], 50), "count_32b_p95_ms": pct(lat["probe"], 95)}


def add_args(ap: argparse.ArgumentParser) -> None:
    """The --scale options (shared with `python -m bench.attribution --scale`)."""
    import sysconfig

    ap.add_argument("--output", type=Path, default=REPO / "runs" / "bench-attribution", help="work folder prefix (NAME-scale)")
    ap.add_argument("--size", type=int, default=300, help="snippet bytes")
    ap.add_argument("--scale-n", type=int, default=400, help="snippets per index (half verbatim, half unseen)")
    ap.add_argument("--shard-mb", type=float, default=15.0,
                    help="MB of text per shard of the large corpus (below 16 MiB a shard, a suffix-array rank takes 3 bytes, not 4)")
    ap.add_argument("--server-queries", type=int, default=200, help="POSTs sent to the local server")
    ap.add_argument("--server-clients", type=int, default=16, help="client threads of the paced server run")
    ap.add_argument("--fm-index", action="store_true", help="also measure the fm-index package (slow build)")
    ap.add_argument("--no-fanout", action="store_true", help="skip the small corpus as 4 and 16 shards")
    ap.add_argument("--no-server", action="store_true", help="skip the server section")
    ap.add_argument("--keep", action="store_true", help="keep the indexes it built")
    ap.add_argument("--reuse", action="store_true", help="query the kept indexes of an earlier --keep run "
                    "(build figures then come from their manifests)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for both builds, e.g. exact.mem_gib=4")
    ap.add_argument("--small-corpus", type=Path, default=Path(sysconfig.get_paths()["stdlib"]), help="the small corpus")
    ap.add_argument("--large-corpus", type=Path, default=Path(sysconfig.get_paths()["purelib"]), help="the large corpus")


def main(args: argparse.Namespace) -> int:
    stdlib, packages = args.small_corpus, args.large_corpus
    work = args.output.with_name(args.output.name + "-scale")
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {"load_average_start": round(os.getloadavg()[0], 2), "shard_mb": args.shard_mb,
                              "build_overrides": list(args.set)}
    say(f"attribution scale bench in {work} (load average {result['load_average_start']})")
    t0 = time.perf_counter()
    for name in ("kept-small", "kept-large"):
        shutil.rmtree(work / name, ignore_errors=True)
    small_files = write_kept(stdlib, work / "kept-small", math.inf)
    large_files = write_kept(packages, work / "kept-large", args.shard_mb * 1e6)
    say(f"kept shards written in {time.perf_counter() - t0:.1f} s: small {len(small_files)} files, "
        f"large {len(large_files)} files in {len(list((work / 'kept-large').glob('*.jsonl')))} shards")
    builds = {}
    for name in ("small", "large"):
        builds[name] = build(work / f"kept-{name}", work / f"index-{name}", args.reuse, tuple(args.set))
        say(f"build {name}: {json.dumps(builds[name])}")
    rng = random.Random(0)
    half = args.scale_n // 2
    snippets = {"small": sample(stdlib, small_files, half, args.size, rng),
                "large": sample(packages, large_files, half, args.size, rng)}
    queries = {}
    for name, other in (("small", "large"), ("large", "small")):
        queries[name] = query(work / f"index-{name}", snippets[name], snippets[other])
        say(f"query {name}: {json.dumps(queries[name])}")
    shards = {"1": {k: queries["small"][k] for k in ("exact_p50_ms", "exact_p95_ms", "check_p50_ms", "check_p95_ms")}}
    for count in () if args.no_fanout else (4, 16):
        kept = work / f"kept-small-{count}"
        total = sum(n for _, n in small_files)
        shutil.rmtree(kept, ignore_errors=True)
        write_kept(stdlib, kept, total / count)
        info = build(kept, work / f"index-small-{count}")
        q = query(work / f"index-small-{count}", snippets["small"], snippets["large"])
        shards[str(count)] = {"shards": info["shards"], "build_mb_s": info["build_mb_s"],
                              **{k: q[k] for k in ("exact_p50_ms", "exact_p95_ms", "check_p50_ms", "check_p95_ms",
                                                   "membership_p95_ms", "search_p95_ms", "recall_at_1",
                                                   "lookups_per_query_mean", "shards_searched_per_query_mean")}}
        say(f"small corpus as {count} shards: {json.dumps(shards[str(count)])}")
        shutil.rmtree(work / f"index-small-{count}")
    server = {} if args.no_server else {
        f"processes_{n}": server_bench(work / "index-large", [s for _, s in snippets["large"] + snippets["small"]],
                                       args.server_queries, args.server_clients, n) for n in (1, 2)}
    fm = fm_index_bench(work / "kept-small", work / "index-small", snippets["small"], snippets["large"]) if args.fm_index else None
    if fm:
        say(f"fm-index on the small corpus: {json.dumps(fm)}")
    s, lg = (builds[k] for k in ("small", "large"))
    qs, ql = (queries[k] for k in ("small", "large"))
    result.update({
        "corpus_mb": [s["corpus_mb"], lg["corpus_mb"]],
        "shards": [s["shards"], lg["shards"]],
        "build_mb_s": [s["build_mb_s"], lg["build_mb_s"]],
        "build_mb_s_ratio": round(lg["build_mb_s"] / s["build_mb_s"], 3),
        "index_mb": [s["index_mb"], lg["index_mb"]],
        "index_bytes_per_byte": lg["index_bytes_per_byte"],
        "index_bytes_per_byte_small": s["index_bytes_per_byte"],
        **{f"{k}_{q}_ms": [qs[f"{k}_{q}_ms"], ql[f"{k}_{q}_ms"]] for k in ("membership", "exact", "search", "check")
           for q in ("p50", "p95")},
        "exact_p95_growth": round(ql["exact_p95_ms"] / max(qs["exact_p95_ms"], 1e-3), 3),
        "check_p95_growth": round(ql["check_p95_ms"] / max(qs["check_p95_ms"], 1e-3), 3),
        "lookups_per_query_mean": [qs["lookups_per_query_mean"], ql["lookups_per_query_mean"]],
        "lookups_per_query_p95": [qs["lookups_per_query_p95"], ql["lookups_per_query_p95"]],
        "shards_searched_per_query_mean": [qs["shards_searched_per_query_mean"], ql["shards_searched_per_query_mean"]],
        "anchor_tests_per_query_mean": [qs["anchor_tests_per_query_mean"], ql["anchor_tests_per_query_mean"]],
        "major_faults_per_query_mean": [qs["major_faults_per_query_mean"], ql["major_faults_per_query_mean"]],
        "cold_major_faults_per_query_mean": [qs["cold_major_faults_per_query_mean"], ql["cold_major_faults_per_query_mean"]],
        "recall_at_1": [qs["recall_at_1"], ql["recall_at_1"]],
        "shard_fanout": shards,
        "server": server,
        "fm_index": fm,
        "build": builds,
        "reused_indexes": bool(args.reuse),
        "load_average_end": round(os.getloadavg()[0], 2),
        "wall_s": round(time.perf_counter() - t0, 1),
    })
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    say(json.dumps(result))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_args(parser)
    raise SystemExit(main(parser.parse_args()))
