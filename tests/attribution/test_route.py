"""Shard routing by winnowed anchors: a shard is skipped only when it cannot hold a span."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from attribution_corpus import STDLIB, UNSEEN, function_lines, lines_of, write_kept

from attribution import Attributor, build_index
from attribution.config import AttributionConfig
from attribution.exact import ExactMatcher
from attribution.route import PARAMS_NAME, anchors, params

MODULES = ("textwrap.py", "heapq.py", "bisect.py", "fnmatch.py", "shlex.py", "json/decoder.py")


@pytest.fixture(scope="module")
def four_shards(tmp_path_factory):
    """Six stdlib modules as four kept shards."""
    root = tmp_path_factory.mktemp("route")
    groups = [MODULES[0:2], MODULES[2:3], MODULES[3:5], MODULES[5:]]
    for i, names in enumerate(groups):
        write_kept(root / "data" / "kept" / f"{i:05d}.jsonl.gz", [("lib", n, STDLIB / n) for n in names])
    build_index(AttributionConfig(input=root / "data", output=root / "idx"))
    return root / "idx"


def test_a_shared_span_of_min_len_bytes_always_shares_an_anchor():
    rng = random.Random(0)
    text = (STDLIB / "textwrap.py").read_bytes()
    k, w = params(64)
    for _ in range(200):
        s = rng.randrange(0, len(text) - 64)
        span = text[s:s + 64]
        left, right = bytes(rng.randrange(256) for _ in range(rng.randrange(200))), b"tail" * rng.randrange(50)
        assert set(anchors(left + span + right, k, w).tolist()) & set(anchors(text, k, w).tolist())
    assert len(anchors(text[:63], k, w)) == 0  # shorter than any span the matcher reports
    indentation = (b"\n" + b" " * 40) * 10 + b"\n" + b"#" * 90  # in every shard of real code
    assert len(anchors(indentation, k, w)) == 0 and len(anchors(text[:300], k, w)) > 0


def test_only_the_shard_holding_a_snippet_is_searched(four_shards):
    start, end = function_lines(STDLIB / "bisect.py", "insort_left")
    snippet = lines_of(STDLIB / "bisect.py", start, end).encode()
    with Attributor(four_shards) as att:
        assert att.matcher.router.candidates(snippet) == [1]
        assert att.matcher.router.candidates(UNSEEN.encode()) == []
        finds = att.matcher.finds
        assert att.matcher.spans(UNSEEN.encode()) == []
        assert att.matcher.finds == finds  # no shard searched, no lookup made


def test_indentation_is_no_anchor(four_shards):
    """Grams of indentation are in every shard; an unseen snippet of deeply indented code must
    not make every shard a candidate (it did before low-information grams were excluded)."""
    snippet = "\n".join(" " * 20 + line for line in UNSEEN.splitlines()).encode()
    with Attributor(four_shards) as att:
        assert att.matcher.router.probes(snippet) == {}
        separator = ("x = 1\n" + "#" * 100 + "\n").encode()  # no anchor in it: no span reported
        assert att.matcher.router.probes(separator) == {} and att.matcher.spans(separator) == []


def test_routed_spans_equal_the_spans_of_every_shard(four_shards, tmp_path):
    """Same spans, counts and places with the anchor filters as with every shard searched, on
    verbatim, stitched (two shards in one snippet), partly edited and unseen snippets."""
    rng = random.Random(1)
    texts = [(STDLIB / n).read_text(encoding="utf-8") for n in MODULES]
    snippets = [UNSEEN]
    for _ in range(12):
        a, b = rng.sample(texts, 2)
        i, j = rng.randrange(len(a) - 400), rng.randrange(len(b) - 400)
        snippets.append(a[i:i + 300])
        snippets.append(a[i:i + 150] + "\n# edited by a model\n" + b[j:j + 200])
    with Attributor(four_shards) as att:
        routed = [att.check(s) for s in snippets]
    for d in (four_shards / "shards").iterdir():
        (d / PARAMS_NAME).rename(d / "route.off")  # an index built before the filters: every shard searched
    try:
        with Attributor(four_shards) as att:
            assert att.matcher.router.candidates(UNSEEN.encode()) == [0, 1, 2, 3]
            everywhere = [att.check(s) for s in snippets]
    finally:
        for d in (four_shards / "shards").iterdir():
            (d / "route.off").rename(d / PARAMS_NAME)
    assert [r["exact"] for r in routed] == [r["exact"] for r in everywhere]
    stitched = [r for r, s in zip(routed, snippets) if "edited by a model" in s]
    assert any(len({m["path"] for m in r["exact"]}) == 2 for r in stitched)  # spans of two shards merged


def test_bisect_lookups_and_threaded_engine_fanout_agree(four_shards):
    """Spans, counts and rank ranges are the same with bisect lookups in the calling thread and
    with infini-gram's engine on four fan-out threads."""
    data = "".join((STDLIB / n).read_text(encoding="utf-8")[1000:1200] + "\n#--\n" for n in MODULES).encode()
    results = []
    with Attributor(four_shards) as att:
        for lookup, workers in (("bisect", 4), ("engine", 1), ("engine", 4)):
            cfg = dataclasses.replace(att.cfg.exact, lookup=lookup, fanout_workers=workers)
            matcher = ExactMatcher(att.matcher.shard_dirs, cfg)
            try:
                results.append([(sp.start, sp.end, sp.count, sp.segments) for sp in matcher.spans(data)])
                assert (matcher._pool is None) == (lookup == "bisect" or workers == 1)  # threads only for the engine
            finally:
                matcher.close()
    assert results[0] == results[1] == results[2]
    assert len({i for *_, segs in results[0] for i, seg in enumerate(segs) if seg[1] > seg[0]}) == 4  # all shards


def test_bisect_find_equals_the_engine_find(four_shards):
    from infini_gram.engine import InfiniGramEngine

    from attribution.exact import ENGINE_KW
    from attribution.tables import ShardTables

    shard = sorted((four_shards / "shards").iterdir())[0]
    engine = InfiniGramEngine(index_dir=[str(shard)], **ENGINE_KW).engine
    tables = ShardTables(shard)
    assert tables.bounds is not None  # lookups bisect only the ranks of the pattern's first two bytes
    text = (shard / "tokenized.0").read_bytes()
    rng = random.Random(3)
    try:
        for _ in range(500):
            i = rng.randrange(len(text) - 300)
            pattern = text[i:i + rng.choice([1, 2, 7, 32, 64, 300])]
            if rng.random() < 0.3:  # mostly absent
                pattern = pattern[:-1] + bytes([rng.randrange(256)])
            res = engine.find(input_ids=list(pattern))
            lo, hi = tables.find(pattern)
            assert hi - lo == res.cnt
            if res.cnt:
                assert (lo, hi) == tuple(res.segment_by_shard[0])
        assert tables.find(text[-40:]) == tuple(engine.find(input_ids=list(text[-40:])).segment_by_shard[0])
    finally:
        tables.close()


def test_anchor_filter_is_in_the_manifest(four_shards):
    import json

    manifest = json.loads((four_shards / "manifest.json").read_text())
    assert manifest["totals"]["bytes"]["route"] > 0
    assert all(s["route_anchors"] > 0 for s in manifest["shards"])
    assert np.isclose(sum(s["route_anchors"] for s in manifest["shards"]) / manifest["totals"]["text_bytes"],
                      2 / (params(64)[1] + 1), rtol=0.5)


def test_fanout_works_in_a_forked_child(four_shards):
    """`serve` forks after the index is open: the child makes its own pool (an inherited one has
    no threads there and would hang)."""
    import os
    import signal
    import time

    data = "".join((STDLIB / n).read_text(encoding="utf-8")[2000:2200] + "\n#--\n" for n in MODULES).encode()
    with Attributor(four_shards) as att:
        want = [(sp.start, sp.end, sp.count) for sp in att.matcher.spans(data)]  # the parent's pool runs
        pid = os.fork()
        if pid == 0:
            got = [(sp.start, sp.end, sp.count) for sp in att.matcher.spans(data)]
            os._exit(0 if got == want else 1)
        deadline = time.monotonic() + 60
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on its first fan-out")
        assert os.waitstatus_to_exitcode(done[1]) == 0 and len(want) >= 4


def test_anchor_probes_find_the_spans_grid_probes_find():
    """maximal_spans probed only at the grams whose anchor the corpus holds finds every span of
    min_len bytes that probing every min_len/2 bytes finds, but those made only of
    low-information grams (`occurs` here: a substring test)."""
    from attribution.route import probe_offsets, snippet_anchors
    from attribution.spans import maximal_spans

    rulers = b"#" * 150 + b"\n" + b" " * 150  # spans made only of low-information grams
    corpus = b"\xff".join([(STDLIB / "textwrap.py").read_bytes(), (STDLIB / "heapq.py").read_bytes(), rulers])
    k, w = params(64)
    held = set(anchors(corpus, k, w).tolist())
    rng = random.Random(2)

    def occurs(s: int, e: int) -> bool:
        return snippet[s:e] in corpus

    def routed_by(probes):
        return [sp for sp in maximal_spans(occurs, len(snippet), 64, 200, probes) if sp[1] - sp[0] >= 64]

    with_spans = uninformative = 0
    for _ in range(60):
        parts = []
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(corpus) - 200)
            parts.append(corpus[i:i + rng.randrange(20, 200)].replace(b"\xff", b"#"))
            parts.append(bytes(rng.randrange(97, 123) for _ in range(rng.randrange(0, 9))))
        if rng.random() < 0.3:  # runs of one byte: windows without an anchor
            parts.insert(rng.randrange(len(parts) + 1), rng.choice([b" ", b"#", b"\n"]) * rng.randrange(40, 140))
        snippet = b"".join(parts)
        if len(snippet) < 64:
            continue
        grams, keys, cores = snippet_anchors(np.frombuffer(snippet, np.uint8), k, w)
        probes = probe_offsets(grams, [v for v in keys if v in held], cores)  # with the core test
        assert routed_by(probe_offsets(grams, [v for v in keys if v in held])) == routed_by(probes)
        grid = [sp for sp in maximal_spans(occurs, len(snippet), 64, 200) if sp[1] - sp[0] >= 64]
        routed = routed_by(probes)
        informative = [sp for sp in grid if len(anchors(snippet[sp[0]:sp[1]], k, w))]
        assert routed == informative
        with_spans += bool(informative)
        uninformative += len(grid) - len(informative)
    assert with_spans >= 20 and uninformative >= 1  # the runs of one byte made some
