"""`starforge eval --save_problems`: a task's problems as the shared problems file, written
without a model; `finetune rl --problems humaneval` gets its problems through it."""

from __future__ import annotations

import json

import pytest

from eval.config import EvalConfig
from eval.evaluate import evaluate
from starforge.cli import main as starforge_main
from starforge.errors import EvalError
from starforge.formats.problems import read_problems


def test_save_problems_writes_the_task_without_a_model(tmp_path, humaneval):
    out = tmp_path / "humaneval.jsonl"
    result = evaluate(EvalConfig(tasks="humaneval", save_problems=str(out), limit=5,
                                 metric_output_path=str(tmp_path / "m.json")))
    assert result["paths"] == {"problems": str(out)} and not (tmp_path / "m.json").exists()
    problems = read_problems(out)
    first = humaneval.problems()[0]
    assert [p.id for p in problems] == [f"HumanEval/{i}" for i in range(5)]
    assert problems[0].prompt == humaneval.prompt(first) and problems[0].tests == [humaneval.reference(first)]
    assert problems[0].stop_words == list(humaneval.stop_words) and problems[0].timeout == humaneval.timeout
    assert problems[0].category == "humaneval" and problems[0].entry_point == first.entry_point
    assert problems[0].prompt + problems[0].solution == humaneval.canonical_generation(first)


def test_save_problems_from_the_command_line(tmp_path):
    out = tmp_path / "p.jsonl"
    assert starforge_main(["eval", "--tasks", "humaneval", "--limit", "2", "--save_problems", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 2 and json.loads(out.read_text().splitlines()[0])["tests"]


def test_save_problems_refuses_a_task_without_python_tests(tmp_path):
    with pytest.raises(EvalError, match="no Python tests run after"):
        evaluate(EvalConfig(tasks="santacoder_fim", save_problems=str(tmp_path / "p.jsonl"),
                            load_data_path=str(tmp_path / "none.jsonl")))


def test_rl_reads_a_task_through_the_eval_command(tmp_path):
    from finetune.rl import load_rl_problems

    problems = load_rl_problems("humaneval", tmp_path)
    assert len(problems) == 164 and (tmp_path / "problems_humaneval.jsonl").is_file()
    assert problems[0].stop_words and problems[0].timeout == 3.0
