"""HumanEval+ and MBPP+ on small fixtures in evalplus's released format (`tests/eval/data/`:
five HumanEval problems with their HumanEval tests as `base_input` and a few extra inputs as
`plus_input`, three MBPP ones), and in the hub's layout (the inputs inside `test`)."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from pathlib import Path

import pytest

from eval.config import EvalConfig
from eval.evaluate import evaluate
from eval.tasks import get_task
from eval.tasks.evalplus import TimeLimits, load_plus_records
from starforge.errors import EvalError
from starforge.sandbox.checks import split_test

DATA = Path(__file__).with_name("data")
HUMANEVAL_PLUS = DATA / "HumanEvalPlus-fixture.jsonl"
MBPP_PLUS = DATA / "MbppPlus-fixture.jsonl"


@pytest.fixture(scope="module")
def heplus():
    return get_task("humanevalplus", str(HUMANEVAL_PLUS))


@pytest.fixture(scope="module")
def mbplus():
    return get_task("mbppplus", str(MBPP_PLUS))


def by_id(task, task_id):
    return next(p for p in task.problems() if p.task_id == task_id)


def test_released_file_gives_base_then_plus_inputs(heplus):
    problems = heplus.problems()
    assert [p.task_id for p in problems] == ["HumanEval/0", "HumanEval/2", "HumanEval/8", "HumanEval/21", "HumanEval/32"]
    assert problems[0].extra["inputs"] == 7 and problems[0].extra["base_inputs"] == 3
    assert heplus.prompt(problems[0]) == problems[0].prompt.strip()  # HumanEval's stripping and stop words
    assert heplus.stop_words == get_task("humaneval").stop_words


def test_gzipped_release_reads_the_same(tmp_path, heplus):
    gz = tmp_path / "HumanEvalPlus.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(HUMANEVAL_PLUS.read_text(encoding="utf-8"))
    assert [p.test for p in get_task("humanevalplus", str(gz)).problems()] == [p.test for p in heplus.problems()]


def test_exact_float_and_set_comparisons_are_decided_on_the_host(heplus, mbplus, caplog):
    """Plain asserts decompose (checks.py); evalplus's elementwise float tolerance (HumanEval/21)
    and find_zero's root check (HumanEval/32) keep the in-process path."""
    host = {p.task_id: split_test(p.test) is not None for p in heplus.problems() + mbplus.problems()}
    assert host == {"HumanEval/0": True, "HumanEval/2": True, "HumanEval/8": True, "HumanEval/21": False,
                    "HumanEval/32": False, "Mbpp/2": True, "Mbpp/3": True, "Mbpp/17": True}
    assert "math.isclose(candidate(3.5), 0.5, rel_tol=1e-07, abs_tol=1e-06)" in by_id(heplus, "HumanEval/2").test
    assert "set(similar_elements([3, 4, 5, 6], [5, 7, 4, 10])) == set((4, 5, ))" in by_id(mbplus, "Mbpp/2").test


def test_load_logs_how_many_problems_the_host_decides(tmp_path, caplog):
    copy = tmp_path / "he.jsonl"  # a new path: the task's build is cached per path
    shutil.copy(HUMANEVAL_PLUS, copy)
    with caplog.at_level(logging.INFO, logger="eval.tasks.evalplus"):
        get_task("humanevalplus", str(copy)).problems()
    assert "humanevalplus: 5 problems, 28 inputs; 3 problems decided on the host, 2 in the sandbox" in caplog.text


def test_reference_solutions_pass_and_plus_inputs_catch_what_humaneval_misses(sandbox, heplus, humaneval):
    problems = heplus.problems()
    assert all(r.passed for r in sandbox.run_many([heplus.program(heplus.canonical_generation(p), p)
                                                  for p in problems]))
    p0 = problems[0]  # `<=` instead of `<`: right on HumanEval's tests, wrong on ([1.0, 1.0], 0.0)
    wrong = p0.prompt + p0.canonical_solution.replace("distance < threshold", "distance <= threshold")
    assert wrong != p0.prompt + p0.canonical_solution
    assert sandbox.run(humaneval.program(wrong, humaneval.problems()[0])).passed
    assert sandbox.run(heplus.program(wrong, p0)).result == "failed: "


def test_an_object_equal_to_everything_fails_a_host_decided_problem(sandbox, heplus):
    p8 = by_id(heplus, "HumanEval/8")
    forged = p8.prompt + ("    class Any(tuple):\n        def __eq__(self, other):\n            return True\n"
                          "    return Any()\n")
    assert not sandbox.run(heplus.program(forged, p8)).passed


def test_mbpp_plus_references_pass_and_sets_compare_unordered(sandbox, mbplus):
    problems = mbplus.problems()
    assert all(r.passed for r in sandbox.run_many([mbplus.program(mbplus.canonical_generation(p), p)
                                                  for p in problems]))
    p2 = problems[0]
    reordered = p2.prompt + "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n"
    assert sandbox.run(mbplus.program(reordered, p2)).passed


def test_timeout_is_a_factor_of_the_canonical_time_with_a_floor(heplus):
    limits = TimeLimits()
    assert (limits.timeout(0.001), limits.timeout(2.5), limits.timeout(100.0)) == (4.0, 10.0, 60.0)
    p = heplus.problems()[0]
    assert p.extra["timeout"] == limits.timeout(p.extra["canonical_seconds"])
    assert heplus.program(heplus.canonical_generation(p), p).timeout == p.extra["timeout"]


def test_hub_layout_reads_inputs_from_the_test(tmp_path):
    """The hub's copy (evalplus/humanevalplus, evalplus/mbppplus) keeps the inputs as a literal in
    `test` (evalplus's to_original_fmt), `inf` as a name; MBPP+'s has `code` and no entry point."""
    release = json.loads(HUMANEVAL_PLUS.read_text().splitlines()[1])  # HumanEval/2
    test = ("import numpy as np\n\ndef assertion(out, exp, atol):\n    assert out == exp\n\n"
            "def check(candidate):\n    inputs = [[3.5], [1.33], [123.456], [0.0], [1e-05], [999.999], [inf]]\n"
            "    results = [0.5, 0.33, 0.456, 0.0, 1e-05, 0.999, 0.0]\n"
            "    for i, (inp, exp) in enumerate(zip(inputs, results)):\n        assertion(candidate(*inp), exp, 1e-06)\n")
    mbpp_test = ("inputs = [[10], [5], [4], [0.5]]\nresults = [40, 20, 16, 2.0]\n"
                 "for i, (inp, exp) in enumerate(zip(inputs, results)):\n    assertion(square_perimeter(*inp), exp, 0)\n")
    path = tmp_path / "hub.jsonl"
    path.write_text(json.dumps({k: release[k] for k in ("task_id", "prompt", "canonical_solution", "entry_point")}
                               | {"test": test}) + "\n" +
                    json.dumps({"task_id": 17, "prompt": "Return the perimeter of a square.",
                                "code": "def square_perimeter(a):\n  return 4*a\n", "test_list":
                                ["assert square_perimeter(10)==40"], "test": mbpp_test}) + "\n")
    zero = ("def check(candidate):\n    inputs = [[[1, 2]], [[-6, 11, -6, 1]]]\n    for i, inp in enumerate(inputs):\n"
            "        assert _poly(*candidate(*inp), inp) <= 0.0001\n")  # find_zero's layout: no assertion()
    sets = "inputs = [[set(), {1}]]\nresults = [0]\nfor i, (inp, exp) in enumerate(zip(inputs, results)):\n" \
           "    assertion(count_common(*inp), exp, 0)\n"
    with path.open("a") as fh:
        fh.write(json.dumps({"task_id": "HumanEval/32", "prompt": "p", "canonical_solution": "c",
                             "entry_point": "find_zero", "test": zero}) + "\n")
        fh.write(json.dumps({"task_id": 9, "prompt": "Count.", "code": "c", "test_list": ["t"], "test": sets}) + "\n")
    he, mb, fz, st = load_plus_records(str(path), task="humanevalplus", hub="", how="")
    assert he.inputs[-1] == [float("inf")] and he.atol == 1e-06 and he.entry_point == "truncate_number"
    assert mb.task_id == "Mbpp/17" and mb.entry_point == "square_perimeter" and mb.inputs[-1] == [0.5]
    assert fz.atol == 0.0001 and fz.inputs == [[[1, 2]], [[-6, 11, -6, 1]]]
    assert st.entry_point == "count_common" and st.inputs == [[set(), {1}]]
    assert mb.prompt == '"""\nReturn the perimeter of a square.\nassert square_perimeter(10)==40\n"""\n'


def test_a_record_that_is_not_evalplus_is_one_line_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "prompt": "def f():\n", "base_input": [[1]]}) + "\n")
    with pytest.raises(EvalError, match=r"bad.jsonl: record 0 \(HumanEval/0\) is not an EvalPlus problem "
                                        r"\(missing field 'plus_input'\)"):
        get_task("humanevalplus", str(path)).problems()
    with pytest.raises(EvalError, match="no such file or directory.*HumanEvalPlus.jsonl.gz"):
        get_task("humanevalplus", str(tmp_path / "nope.jsonl.gz")).problems()


def test_check_references_scores_100_percent(tmp_path):
    out = evaluate(EvalConfig(tasks="humanevalplus", load_data_path=str(HUMANEVAL_PLUS), check_references=True,
                              allow_code_execution=True, metric_output_path=str(tmp_path / "m.json")))
    assert out["metrics"] == {"humanevalplus": {"pass@1": 1.0}}


def test_save_problems_writes_each_problems_own_timeout(tmp_path):
    from starforge.formats.problems import read_problems

    evaluate(EvalConfig(tasks="mbppplus", load_data_path=str(MBPP_PLUS), save_problems=str(tmp_path / "p.jsonl")))
    records = read_problems(tmp_path / "p.jsonl")
    assert [r.id for r in records] == ["Mbpp/2", "Mbpp/3", "Mbpp/17"]
    assert [r.timeout for r in records] == [p.extra["timeout"] for p in get_task("mbppplus", str(MBPP_PLUS)).problems()]
