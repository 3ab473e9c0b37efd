"""`attribution check-generations`: a generations file checked sample by sample against an index."""

from __future__ import annotations

import json

import pytest
from attribution_corpus import STDLIB, function_lines, lines_of

from attribution.check_generations import CheckGenerationsConfig, check_generations
from starforge.errors import FormatError


def test_verbatim_sample_is_a_hit_naming_the_training_file(index_dir, tmp_path):
    start, end = function_lines(STDLIB / "textwrap.py", "dedent")
    copied = "def solve():\n    pass\n" + lines_of(STDLIB / "textwrap.py", start, end)
    fresh = "def add_two(a, b):\n    return a + b  # q8z\n"
    gens = tmp_path / "generations_humaneval.json"
    gens.write_text(json.dumps([[fresh, copied], ["", fresh]]))

    summary = check_generations(CheckGenerationsConfig(generations=gens, index=index_dir, output=tmp_path / "out"))

    assert summary["generations_checked"] == 3 and summary["generations_skipped_empty"] == 1
    assert summary["generations_with_hits"] == 1 and summary["stage"] == "attribution"
    hits = json.loads((tmp_path / "out" / "hits.json").read_text())
    assert [(h["problem"], h["sample"]) for h in hits] == [(0, 1)]
    top = hits[0]["exact"][0]
    assert top["path"].endswith("textwrap.py") and top["start_line"] <= start + 1 and top["end_line"] >= end - 1
    assert summary["longest_match_bytes"] == top["length"] >= len(lines_of(STDLIB / "textwrap.py", start, end)) - 2
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["top_hits"] == hits


def test_not_a_generations_file_is_one_line_error(index_dir, tmp_path):
    bad = tmp_path / "gens.json"
    bad.write_text(json.dumps({"humaneval": ["x"]}))
    with pytest.raises(FormatError, match="gens.json: expected a non-empty JSON list") as info:
        check_generations(CheckGenerationsConfig(generations=bad, index=index_dir, output=tmp_path / "out"))
    assert "\n" not in str(info.value)


def test_command_line_writes_hits_and_refuses_an_output_holding_its_input(index_dir, tmp_path, capsys):
    from starforge.cli import main

    start, end = function_lines(STDLIB / "textwrap.py", "dedent")
    gens = tmp_path / "eval" / "generations_humaneval.json"
    gens.parent.mkdir()
    gens.write_text(json.dumps([[lines_of(STDLIB / "textwrap.py", start, end)]]))
    argv = ["attribution", "check-generations", str(gens), "--index", str(index_dir)]
    assert main([*argv, "--output", str(tmp_path / "attribution")]) == 0
    assert "1 generations checked" in capsys.readouterr().out
    assert json.loads((tmp_path / "attribution" / "summary.json").read_text())["generations_with_hits"] == 1

    assert main([*argv, "--output", str(tmp_path / "eval")]) == 2  # would hold its own input
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--output" in err
