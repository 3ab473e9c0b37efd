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
from attribution.route import PARAMS_NAME, anchors, params, snippet_anchors
from attribution.spans import shard_spans

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
        assert att.matcher.router.candidates(snippet) == []
        separator = ("x = 1\n" + "#" * 100 + "\n").encode()  # no anchor in it: no span reported
        assert att.matcher.router.candidates(separator) == [] and att.matcher.spans(separator) == []


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


def test_anchor_array_holds_the_anchor_suffixes_in_order(four_shards):
    """anchors.0 is the suffix array of exactly the shard's anchor positions, in suffix order,
    and `find` gives the ranks of the anchors followed by a pattern, as a scan of them does."""
    from attribution.route import shard_anchors
    from attribution.tables import ShardTables

    rng = random.Random(3)
    for shard in sorted((four_shards / "shards").iterdir()):
        tables = ShardTables(shard)
        try:
            text = bytes(tables.data)
            ptrs = tables.ptrs(np.arange(tables.ranks)).astype(np.int64)
            assert ptrs.tolist() == sorted(shard_anchors(text, *params(64))[1].tolist(), key=lambda p: text[p:])
            assert 0.02 < tables.ranks / len(text) < 0.12  # ~2 / (w + 1) of the positions
            assert tables.bounds is not None and tables.bounds[-1] == tables.ranks
            for _ in range(40):
                p = int(rng.choice(ptrs))
                pattern = text[p:p + rng.choice([1, 2, 5, 32, 64, 200])]
                lo, hi = tables.find(pattern)
                assert sorted(ptrs[lo:hi].tolist()) == [a for a in sorted(ptrs.tolist()) if text[a:a + len(pattern)] == pattern]
            assert tables.find(b"\x00never in a source file") == (tables.find(b"\x00never in a source file")[0],) * 2
        finally:
            tables.close()


def _brute_spans(snippet: bytes, corpus: bytes, min_len: int) -> list[tuple[int, int, int]]:
    """OLMoTrace's maximal spans by substring tests: the longest match from each start, kept
    where it ends later than the one before, of min_len bytes and holding an anchor; counted
    with overlaps."""
    k, w = params(min_len)
    out, e, last = [], 0, -1
    for s in range(len(snippet)):
        e = max(e, s)
        while e < len(snippet) and snippet[s:e + 1] in corpus:
            e += 1
        if e > last and e - s >= min_len and len(anchors(snippet[s:e], k, w)):
            count, pos = 0, corpus.find(snippet[s:e])
            while pos >= 0:
                count, pos = count + 1, corpus.find(snippet[s:e], pos + 1)
            out.append((s, e, count))
        last = max(last, e)
    return out


def test_anchor_spans_equal_brute_force_spans(tmp_path):
    """Spans and counts from the anchor suffix arrays of two shards equal those of substring
    tests over the whole corpus, on snippets stitched from the corpus, random letters and runs
    of one byte, also with scan_cap=2 (every anchor's copies sampled: heapq.py is in three times)."""
    rulers = tmp_path / "rulers.py"
    rulers.write_text("#" * 150 + "\n" + " " * 150 + "\n")  # spans made only of low-information grams
    files = [("lib", "textwrap.py", STDLIB / "textwrap.py"), ("lib", "rulers.py", rulers)]
    files2 = [(f"copy{i}", "heapq.py", STDLIB / "heapq.py") for i in range(12)] + [("lib", "shlex.py", STDLIB / "shlex.py")]
    write_kept(tmp_path / "data" / "kept" / "00000.jsonl.gz", files)
    write_kept(tmp_path / "data" / "kept" / "00001.jsonl.gz", files2)
    build_index(AttributionConfig(input=tmp_path / "data", output=tmp_path / "idx"))
    corpus = b"\xff".join(path.read_bytes() for _, _, path in files + files2)
    rng = random.Random(2)
    snippets = []
    for _ in range(30):
        parts = []
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(corpus) - 200)
            parts.append(corpus[i:i + rng.randrange(20, 260)].replace(b"\xff", b"#"))
            parts.append(bytes(rng.randrange(97, 123) for _ in range(rng.randrange(0, 9))))
        if rng.random() < 0.3:  # runs of one byte: windows without an anchor
            parts.insert(rng.randrange(len(parts) + 1), rng.choice([b" ", b"#", b"\n"]) * rng.randrange(40, 140))
        snippets.append(b"".join(parts))
    with Attributor(tmp_path / "idx") as att:
        sampled = ExactMatcher(att.matcher.shard_dirs, dataclasses.replace(att.cfg.exact, scan_cap=4))
        try:
            with_spans = 0
            for snippet in snippets:
                want = _brute_spans(snippet, corpus, 64)
                assert sorted((sp.start, sp.end, sp.count) for sp in att.matcher.spans(snippet)) == want
                assert sorted((sp.start, sp.end, sp.count) for sp in sampled.spans(snippet)) == want
                with_spans += bool(want)
            heapq = (STDLIB / "heapq.py").read_bytes()[2000:2300]
            snip = snippet_anchors(np.frombuffer(heapq, np.uint8), *params(64))
            assert shard_spans(sampled.tables[1], heapq, sampled.router.probes(snip)[1], 64, 4)[2]  # sampled
        finally:
            sampled.close()
    assert with_spans >= 15


def test_anchor_filter_is_in_the_manifest(four_shards):
    import json

    manifest = json.loads((four_shards / "manifest.json").read_text())
    assert manifest["totals"]["bytes"]["route"] > 0
    assert all(s["route_anchors"] > 0 for s in manifest["shards"])
    assert np.isclose(sum(s["route_anchors"] for s in manifest["shards"]) / manifest["totals"]["text_bytes"],
                      2 / (params(64)[1] + 1), rtol=0.5)


def test_queries_work_in_a_forked_child(four_shards):
    """`serve` forks after the index is open: a child answers from the maps it inherited."""
    import os
    import signal
    import time

    data = "".join((STDLIB / n).read_text(encoding="utf-8")[2000:2200] + "\n#--\n" for n in MODULES).encode()
    with Attributor(four_shards) as att:
        want = [(sp.start, sp.end, sp.count) for sp in att.matcher.spans(data)]
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
            pytest.fail("the forked child hung on its first query")
        assert os.waitstatus_to_exitcode(done[1]) == 0 and len(want) >= 4
