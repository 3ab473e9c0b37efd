from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import yaml

from data_pipeline.curate import CurateConfig, curate
from data_pipeline.readers.sources import list_repository_folder
from starforge.errors import DataError
from tests.data_pipeline.conftest import EXPECTED, INPUT_FILES, make_corpus
from tests.data_pipeline.helpers import kept_records, kept_texts, outcomes


def test_every_input_file_in_exactly_one_output(curated: Path):
    found = outcomes(curated)
    assert set(found) == set(EXPECTED)
    assert all(len(places) == 1 for places in found.values())


def test_files_kept_or_removed_with_reason(curated: Path):
    for doc_id, [(where, record)] in outcomes(curated).items():
        expected = EXPECTED[doc_id]
        assert (where == "kept") == (expected == "kept"), doc_id
        assert record["metadata"].get("reason", "kept") == expected, doc_id


def test_removed_records_keep_metadata_and_drop_undecodable_text(curated: Path):
    found = outcomes(curated)
    where, png = found["alpha/idle_16.png"][0]
    assert where == "binary" and png["text"] == ""
    assert png["metadata"]["repo"] == "alpha" and png["metadata"]["licence"] == "MIT" and png["metadata"]["size"] > 0
    assert found["alpha/latin1.py"][0][1]["text"] == ""
    assert found["alpha/big.txt"][0][0] == "too_large"
    assert "read_error" in found["alpha/broken_link.py"][0][1]["metadata"]


def test_kept_record_format(curated: Path):
    record = outcomes(curated)["alpha/pkg/decoder.py"][0][1]
    assert set(record) == {"text", "id", "metadata"}
    meta = record["metadata"]
    assert (meta["repo"], meta["path"], meta["lang"], meta["licence"]) == ("alpha", "alpha/pkg/decoder.py",
                                                                          "Python", "MIT")
    assert meta["size"] == len(record["text"].encode())


def test_kept_text_is_the_file_exactly(curated: Path):
    from tests.data_pipeline.conftest import STDLIB

    assert kept_texts(curated)["alpha/pkg/decoder.py"] == (STDLIB / "json" / "decoder.py").read_bytes().decode()


def test_exact_duplicate_keeps_first_id_and_names_it(curated: Path):
    where, record = outcomes(curated)["beta/json/decoder.py"][0]
    assert where == "exact_dedup"
    assert record["metadata"]["duplicate_of"] == "alpha/pkg/decoder.py"


def test_dedup_result_independent_of_task_count(tmp_path: Path, curated: Path):
    root = make_corpus(tmp_path / "corpus")
    curate(CurateConfig(input=str(root), output=tmp_path / "one", tasks=1, workers=1))
    assert kept_texts(tmp_path / "one") == kept_texts(curated)


def test_stats_count_every_step_and_match_outputs(curated: Path):
    stats = json.loads((curated / "stats.json").read_text())
    totals = stats["totals"]
    assert totals["files"] == len(INPUT_FILES)
    assert len(EXPECTED) == totals["kept"] + totals["removed"] == totals["files"] + totals["added_by_conversion"]
    reasons = {}
    for outcome in EXPECTED.values():
        if outcome != "kept":
            reasons[outcome] = reasons.get(outcome, 0) + 1
    assert totals["removed_by_reason"] == reasons
    assert totals["kept"] == list(EXPECTED.values()).count("kept")
    steps = stats["steps"]
    for before, after in zip(steps, steps[1:]):
        assert after["docs_in"] == before["kept"]
    assert totals["bytes_kept"] == sum(r["metadata"]["size"] for r in kept_records(curated).values())


def test_resolved_config_saved(curated: Path):
    saved = yaml.safe_load((curated / "config.yaml").read_text())
    assert saved["tasks"] == 3 and saved["max_file_bytes"] == 1_000_000


def test_rerun_skips_completed_tasks(tmp_path: Path):
    root = make_corpus(tmp_path / "corpus")
    cfg = CurateConfig(input=str(root), output=tmp_path / "out", tasks=2, workers=1)
    first = curate(cfg)
    kept_file = next((tmp_path / "out" / "kept").glob("*.jsonl.gz"))
    mtime = kept_file.stat().st_mtime_ns
    os.remove(tmp_path / "out" / "stats.json")
    second = curate(cfg)
    assert kept_file.stat().st_mtime_ns == mtime
    assert second["totals"] == first["totals"]


def test_rerun_with_other_config_refused_and_outputs_intact(tmp_path: Path):
    root = make_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    curate(CurateConfig(input=str(root), output=out, tasks=2, workers=1))
    before = (out / "config.yaml").read_text()
    with pytest.raises(DataError, match="different config"):
        curate(CurateConfig(input=str(root), output=out, tasks=2, workers=1, max_file_bytes=10))
    assert (out / "config.yaml").read_text() == before


def test_missing_input_leaves_earlier_outputs_intact(tmp_path: Path, curated: Path):
    before = sorted(p.name for p in curated.iterdir())
    with pytest.raises(DataError, match="no such folder"):
        curate(CurateConfig(input=str(tmp_path / "nope"), output=curated, tasks=3, workers=1))
    assert sorted(p.name for p in curated.iterdir()) == before


def test_empty_corpus_is_a_data_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files found"):
        curate(CurateConfig(input=str(tmp_path / "empty"), output=tmp_path / "out", workers=1))
    assert not (tmp_path / "out").exists()


def test_nothing_kept_is_a_result_with_every_file_removed(tmp_path: Path):
    repo = tmp_path / "corpus" / "r"
    repo.mkdir(parents=True)
    (repo / "empty.py").write_bytes(b"\n")
    stats = curate(CurateConfig(input=str(tmp_path / "corpus"), output=tmp_path / "out", workers=1))
    assert stats["totals"]["kept"] == 0 and stats["result"].startswith("nothing kept: all 1 files removed")
    assert outcomes(tmp_path / "out")["r/empty.py"][0][0] == "empty"


def test_input_listing_matches_expected(corpus: Path):
    assert {f.id for f in list_repository_folder(corpus)} == set(INPUT_FILES)


def test_output_inside_input_refused(corpus: Path):
    with pytest.raises(DataError, match="inside input"):
        curate(CurateConfig(input=str(corpus), output=corpus / "curated", workers=1))


def test_resume_reads_the_saved_listing(tmp_path: Path):
    root = make_corpus(tmp_path / "corpus")
    cfg = CurateConfig(input=str(root), output=tmp_path / "out", tasks=2, workers=1)
    curate(cfg)  # (a corpus that changed since is refused: test_rerun_on_a_changed_corpus_...)
    for marker in (tmp_path / "out" / "logs").glob("*/completions/*"):
        marker.unlink()  # as if every task had crashed
    assert curate(cfg)["totals"]["files"] == len(INPUT_FILES)
    assert set(outcomes(tmp_path / "out")) == set(EXPECTED)


def test_file_name_not_utf8_kept_with_escaped_id(tmp_path: Path):
    repo = tmp_path / "corpus" / "r"
    repo.mkdir(parents=True)
    (repo / os.fsdecode(b"caf\xe9.py")).write_text("print('hi')\n")
    curate(CurateConfig(input=str(tmp_path / "corpus"), output=tmp_path / "out", workers=1, allow_unknown_licence=True))
    assert kept_texts(tmp_path / "out") == {"r/caf\\xe9.py": "print('hi')\n"}


def test_input_that_is_a_file_is_a_data_error(tmp_path: Path):
    (tmp_path / "f.py").write_text("x = 1\n")
    with pytest.raises(DataError, match="not a folder"):
        curate(CurateConfig(input=str(tmp_path / "f.py"), output=tmp_path / "out", workers=1))


def _output_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.jsonl.gz"))}


def test_resume_after_a_killed_task_is_byte_identical(tmp_path: Path):
    root = make_corpus(tmp_path / "corpus")
    cfg = CurateConfig(input=str(root), output=tmp_path / "out", tasks=2, workers=1)
    curate(cfg)
    before = _output_bytes(tmp_path / "out")
    # task 1 of the last stage killed mid-write: no completion marker, a truncated kept file
    (tmp_path / "out" / "logs" / "dedup_filter" / "completions" / "00001").unlink()
    kept = tmp_path / "out" / "kept" / "00001.jsonl.gz"
    kept.write_bytes(kept.read_bytes()[:20])
    curate(cfg)
    assert _output_bytes(tmp_path / "out") == before


def test_two_runs_write_identical_bytes(tmp_path: Path, curated: Path):
    root = make_corpus(tmp_path / "corpus")
    curate(CurateConfig(input=str(root), output=tmp_path / "again", tasks=3, workers=1))
    assert _output_bytes(tmp_path / "again") == _output_bytes(curated)


def test_funnel_report_json_and_png(curated: Path):
    funnel = json.loads((curated / "funnel.json").read_text())
    stats = json.loads((curated / "stats.json").read_text())
    assert funnel["input"]["docs"] == len(INPUT_FILES) and funnel["kept"]["docs"] == stats["totals"]["kept"]
    steps = funnel["steps"]
    assert [s["step"] for s in steps] == [s["step"] for s in stats["steps"]]
    for before, after in zip(steps, steps[1:]):
        assert after["docs_in"] == before["docs_out"] and after["bytes_in"] == before["bytes_out"]
        # tokens are counted once texts are decoded (after `empty`); a converted notebook's forms afresh
        if before["tokens_in"] and before["step"] != "jupyter":
            assert after["tokens_in"] == before["tokens_out"], after["step"]
    language = next(s for s in steps if s["step"] == "language")
    xml = language["by_language"]["XML"]
    assert {k: v for k, v in xml.items() if not k.startswith("bytes_in")} == {
        "docs_in": 1, "docs_out": 0, "bytes_out": 0, "tokens_in": xml["tokens_in"], "tokens_out": 0}
    assert xml["tokens_in"] > 0
    assert steps[-1]["docs_out"] == stats["totals"]["kept"]
    kept = [json.loads(line) for path in sorted((curated / "kept").glob("*.jsonl.gz"))
            for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert funnel["kept"]["tokens"] == sum(r["metadata"]["tokens"] for r in kept) > 0
    assert (curated / "funnel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_name_the_new_steps(curated: Path):
    stats = json.loads((curated / "stats.json").read_text())
    names = [s["step"] for s in stats["steps"]]
    assert names == ["unreadable", "too_large", "binary", "invalid_utf8", "empty", "language", "licence", "jupyter",
                     "max_line_length", "mean_line_length", "alphanumeric", "alphabetic", "xml_header",
                     "html_visible_text", "data_file_size", "autogenerated", "exact_dedup", "near_dedup",
                     "decontamination"]
    assert stats["pii"]["documents_redacted"] >= 1 and stats["pii"]["redacted_email"] >= 1
    assert stats["dedup"]["near_duplicates"] == 1


def test_rerun_on_a_changed_corpus_is_refused_naming_the_change(tmp_path: Path):
    repo = tmp_path / "corpus" / "r"
    repo.mkdir(parents=True)
    from tests.data_pipeline.conftest import MIT_TEXT, STDLIB

    (repo / "LICENSE").write_text(MIT_TEXT)
    (repo / "colorsys.py").write_text((STDLIB / "colorsys.py").read_text())
    cfg = CurateConfig(input=str(tmp_path / "corpus"), output=tmp_path / "out", tasks=1, workers=1, pii=None)
    curate(cfg)
    assert curate(cfg)["totals"]["kept"] == 1  # unchanged: resumes
    (repo / "new.py").write_text("print('new')\n")
    with pytest.raises(DataError, match=r"input changed since this run listed it \(1 added \(r/new.py\)\)"):
        curate(cfg)
    (repo / "new.py").unlink()
    (repo / "colorsys.py").write_text("changed = True\n")
    with pytest.raises(DataError, match=r"1 changed \(r/colorsys.py\)"):
        curate(cfg)
