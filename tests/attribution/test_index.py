from __future__ import annotations

import json
import shutil

import pytest
from attribution_corpus import STDLIB, function_lines, lines_of, write_kept

from attribution import Attributor, build_index
from attribution.config import AttributionConfig
from starforge.errors import AttributionError


def _kept_run(root):
    write_kept(root / "data" / "kept" / "00000.jsonl.gz",
               [("py/textwrap", "textwrap.py", STDLIB / "textwrap.py"), ("py/heapq", "heapq.py", STDLIB / "heapq.py")])
    write_kept(root / "data" / "kept" / "00001.jsonl.gz",
               [("py/json", "json/decoder.py", STDLIB / "json" / "decoder.py")], licence="Apache-2.0")
    return root / "data"


def test_manifest_records_counts_sizes_and_times(index_dir):
    manifest = json.loads((index_dir / "manifest.json").read_text())
    totals = manifest["totals"]
    assert totals["docs"] == 12  # five textkit modules and its LICENSE, five json modules, re/_casefix.py
    assert totals["index_bytes"] == sum(totals["bytes"].values()) > totals["text_bytes"]
    assert set(manifest["shards"][0]["times"]) >= {"suffix_array_s", "bloom_s"}
    assert (index_dir / "config.yaml").is_file()


def test_kept_shards_each_get_an_index_and_queries_fan_out(tmp_path):
    result = build_index(AttributionConfig(input=_kept_run(tmp_path), output=tmp_path / "idx"))
    assert [s["name"] for s in result["shards"]] == ["00000", "00001"]
    path = STDLIB / "json" / "decoder.py"
    start, end = function_lines(path, "JSONObject")
    with Attributor(tmp_path / "idx") as att:
        top = att.check(lines_of(path, start, end))["exact"][0]
    assert (top["repo"], top["path"], top["licence"], top["start_line"], top["end_line"]) == \
        ("py/json", "json/decoder.py", "Apache-2.0", start, end)


def test_kept_folder_itself_is_accepted(tmp_path):
    data = _kept_run(tmp_path)
    result = build_index(AttributionConfig(input=data / "kept", output=tmp_path / "idx"))
    assert result["totals"]["docs"] == 3


def test_rerun_on_complete_index_is_a_noop(tmp_path):
    cfg = AttributionConfig(input=_kept_run(tmp_path), output=tmp_path / "idx")
    build_index(cfg)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "idx").rglob("*")}
    again = build_index(cfg)
    assert again["built"] == [] and again["skipped"] == ["00000", "00001"]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "idx").rglob("*")} == before


def test_new_shard_is_added_without_rebuilding_others(tmp_path):
    data = _kept_run(tmp_path)
    cfg = AttributionConfig(input=data, output=tmp_path / "idx")
    build_index(cfg)
    old_marker = (tmp_path / "idx" / "shards" / "00000" / "shard.json").stat().st_mtime_ns
    write_kept(data / "kept" / "00002.jsonl.gz", [("py/bisect", "bisect.py", STDLIB / "bisect.py")])
    result = build_index(cfg)
    assert result["built"] == ["00002"] and len(result["shards"]) == 3
    assert (tmp_path / "idx" / "shards" / "00000" / "shard.json").stat().st_mtime_ns == old_marker
    start, end = function_lines(STDLIB / "bisect.py", "bisect_right")
    with Attributor(tmp_path / "idx") as att:
        assert att.check(lines_of(STDLIB / "bisect.py", start, end))["exact"][0]["repo"] == "py/bisect"


def test_interrupted_shard_is_rebuilt(tmp_path):
    cfg = AttributionConfig(input=_kept_run(tmp_path), output=tmp_path / "idx")
    build_index(cfg)
    (tmp_path / "idx" / "shards" / "00001" / "shard.json").unlink()  # as if killed before the marker
    shutil.copytree(tmp_path / "idx" / "shards" / "00000", tmp_path / "idx" / "shards" / ".00000.partial")
    result = build_index(cfg)
    assert result["built"] == ["00001"] and result["skipped"] == ["00000"]
    assert not (tmp_path / "idx" / "shards" / ".00000.partial").exists()


def test_changed_shard_input_is_rebuilt(tmp_path):
    data = _kept_run(tmp_path)
    cfg = AttributionConfig(input=data, output=tmp_path / "idx")
    build_index(cfg)
    write_kept(data / "kept" / "00001.jsonl.gz", [("py/fnmatch", "fnmatch.py", STDLIB / "fnmatch.py")])
    assert build_index(cfg)["built"] == ["00001"]


def test_adding_with_different_ngram_config_is_refused(tmp_path):
    data = _kept_run(tmp_path)
    build_index(AttributionConfig(input=data, output=tmp_path / "idx"))
    cfg = AttributionConfig(input=data, output=tmp_path / "idx")
    cfg.bloom.ngram = 40
    with pytest.raises(AttributionError, match="bloom.ngram=50, now 40"):
        build_index(cfg)


def test_input_without_files_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AttributionError, match="no files to index"):
        build_index(AttributionConfig(input=tmp_path / "empty", output=tmp_path / "idx"))


def test_missing_input_is_an_error(tmp_path):
    with pytest.raises(AttributionError, match="input not found"):
        build_index(AttributionConfig(input=tmp_path / "nope", output=tmp_path / "idx"))


def test_missing_index_is_a_one_line_error(tmp_path):
    with pytest.raises(AttributionError, match="no such index"):
        Attributor(tmp_path / "nope")


def test_corrupt_manifest_is_a_one_line_error(tmp_path, index_dir):
    broken = tmp_path / "idx"
    shutil.copytree(index_dir, broken)
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(AttributionError, match="corrupt manifest"):
        Attributor(broken)


def test_truncated_suffix_array_is_a_one_line_error(tmp_path, index_dir):
    broken = tmp_path / "idx"
    shutil.copytree(index_dir, broken)
    table = broken / "shards" / "files" / "anchors.0"
    table.write_bytes(table.read_bytes()[:100])
    with pytest.raises(AttributionError, match="rebuild with `starforge attribution index`"):
        Attributor(broken)


def test_missing_bloom_filter_is_a_one_line_error(tmp_path, index_dir):
    broken = tmp_path / "idx"
    shutil.copytree(index_dir, broken)
    (broken / "shards" / "files" / "bloom.bin").unlink()
    with pytest.raises(AttributionError, match="Bloom filter"):
        Attributor(broken)


def test_empty_and_oversized_snippets_are_refused(att):
    with pytest.raises(AttributionError, match="empty snippet"):
        att.check("  \n\t")
    with pytest.raises(AttributionError, match="max_snippet_bytes"):
        att.check("x" * (att.cfg.exact.max_snippet_bytes + 1))


def test_binary_and_unicode_snippets_return_results(att):
    for snippet in ("\x00\x01\x02\xff" * 40, "déjà vu — 日本語のコード " * 10, "\udcff surrogate"):
        result = att.check(snippet)
        assert set(result) == {"membership", "exact", "search"}
