from __future__ import annotations

from attribution_corpus import STDLIB, UNSEEN, function_lines, lines_of, write_kept

from attribution import Attributor, build_index
from attribution.config import AttributionConfig


def test_verbatim_function_found_with_file_and_lines(att):
    start, end = function_lines(STDLIB / "textwrap.py", "dedent")
    snippet = lines_of(STDLIB / "textwrap.py", start, end)
    top = att.check(snippet)["exact"][0]
    assert (top["repo"], top["path"], top["licence"]) == ("textkit", "textwrap.py", "MIT")
    assert (top["start_line"], top["end_line"]) == (start, end)
    assert top["length"] == len(snippet.encode("utf-8"))
    assert (top["snippet_start"], top["snippet_end"]) == (0, len(snippet))


def test_function_in_subfolder_reports_path_inside_repository(att):
    path = STDLIB / "json" / "decoder.py"
    start, end = function_lines(path, "py_scanstring")
    top = att.check(lines_of(path, start, end))["exact"][0]
    assert (top["repo"], top["path"], top["start_line"], top["end_line"]) == ("jsonlib", "json/decoder.py", start, end)


def test_modified_line_splits_snippet_into_two_maximal_spans(att):
    path = STDLIB / "heapq.py"
    start, end = function_lines(path, "nsmallest")
    lines = lines_of(path, start, end).splitlines(keepends=True)
    mid = len(lines) // 2
    lines[mid] = "        raise NotImplementedError('patched by a model')\n"
    result = att.check("".join(lines))
    spans = {(m["start_line"], m["end_line"]) for m in result["exact"] if m["path"] == "heapq.py"}
    assert (start, start + mid - 1) in spans
    assert (start + mid + 1, end) in spans
    assert all(m["snippet_end"] - m["snippet_start"] <= len("".join(lines)) for m in result["exact"])
    assert result["exact"][0]["length"] >= result["exact"][-1]["length"]


def test_snippet_offsets_are_characters_in_unicode_code(att):
    path = STDLIB / "re" / "_casefix.py"
    text = path.read_text(encoding="utf-8")
    snippet = "# A new prefix, never in training. Ω\n" + text[300:900]
    top = att.check(snippet)["exact"][0]
    assert top["path"] == "re/_casefix.py"
    assert snippet[top["snippet_start"]:top["snippet_end"]] in text
    assert top["snippet_end"] == len(snippet)


def test_unseen_code_has_no_exact_match(att):
    assert att.check(UNSEEN)["exact"] == []


def test_span_shorter_than_min_len_not_reported(att):
    line = "    return result\n"  # common, but far shorter than 64 bytes
    assert att.check(line)["exact"] == []


def test_duplicated_file_reports_every_location_and_count(tmp_path):
    src = STDLIB / "bisect.py"
    write_kept(tmp_path / "data" / "kept" / "00000.jsonl.gz",
               [("a/one", "bisect.py", src), ("b/two", "vendored/bisect.py", src), ("c/three", "heapq.py", STDLIB / "heapq.py")])
    build_index(AttributionConfig(input=tmp_path / "data", output=tmp_path / "idx"))
    start, end = function_lines(src, "insort_left")
    with Attributor(tmp_path / "idx") as att:
        exact = att.check(lines_of(src, start, end))["exact"]
    assert {(m["repo"], m["path"]) for m in exact} == {("a/one", "bisect.py"), ("b/two", "vendored/bisect.py")}
    assert all(m["count"] == 2 and (m["start_line"], m["end_line"]) == (start, end) for m in exact)


def test_common_span_lists_a_sample_of_distinct_files_and_the_exact_count(tmp_path):
    src = STDLIB / "bisect.py"
    copies = [(f"r{i:02d}", "bisect.py", src) for i in range(30)]
    write_kept(tmp_path / "data" / "kept" / "00000.jsonl.gz", copies[:18])
    write_kept(tmp_path / "data" / "kept" / "00001.jsonl.gz", copies[18:])
    cfg = AttributionConfig(input=tmp_path / "data", output=tmp_path / "idx")
    cfg.exact.sample_ranks = 12  # fewer candidates than places: the sample still spans both shards
    build_index(cfg)
    start, end = function_lines(src, "insort_right")
    with Attributor(tmp_path / "idx") as att:
        exact = att.check(lines_of(src, start, end))["exact"]
        assert len(exact) == att.cfg.exact.max_locations == 10
    assert all(m["count"] == 30 and (m["start_line"], m["end_line"]) == (start, end) for m in exact)
    repos = [m["repo"] for m in exact]
    assert len(set(repos)) == 10  # one place per file, never the same file twice
    assert any(r < "r18" for r in repos) and any(r >= "r18" for r in repos)  # from both shards
