"""MBPP: 974 crowd-sourced entry-level Python problems; the harness scores the 500-problem test
split (task ids 11-510). Austin et al., "Program Synthesis with Large Language Models",
arXiv 2108.07732. https://github.com/google-research/google-research/tree/master/mbpp

No package on the index ships MBPP, so the data comes from `load_data_path` (the original
`mbpp.jsonl`, a JSON/JSONL file of test-split records, or a directory written by `datasets`'
`save_to_disk`), else from the hub through `datasets` (`mbpp`, as the harness loads it).
Prompt (InCoder style: the description and the first test in a docstring), stop words and
references follow bigcode-evaluation-harness's `bigcode_eval/tasks/mbpp.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.tasks import Problem, Task, register_task
from eval.tasks.loading import offline_unless_reachable
from starforge.errors import EvalError

TEST_IDS = range(11, 511)  # the "full" config's test split
HOW = ("MBPP is not shipped in a package: pass --load_data_path with the original mbpp.jsonl "
       "(github.com/google-research/google-research/tree/master/mbpp), or a directory saved by "
       "datasets (load_dataset('mbpp').save_to_disk(DIR)), or allow hub access")


def _records_from_file(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            return json.loads(text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise EvalError(f"{path}: not JSON or JSON lines ({exc}); {HOW}") from None


def load_mbpp_records(data_path: str | None) -> list[dict[str, Any]]:
    if data_path:
        path = Path(data_path)
        if path.is_file():
            records = _records_from_file(path)
        elif path.is_dir():
            try:
                from datasets import load_from_disk

                records = list(load_from_disk(str(path))["test"])
            except (FileNotFoundError, KeyError, ValueError) as exc:
                raise EvalError(f"{path}: not a saved MBPP DatasetDict with a 'test' split ({exc}); {HOW}") from None
        else:
            raise EvalError(f"--load_data_path {path}: no such file or directory; {HOW}")
    else:
        offline_unless_reachable()
        try:
            from datasets import load_dataset

            records = list(load_dataset("mbpp")["test"])
        except Exception as exc:  # offline, no cache, hub errors: all mean "no data here"
            raise EvalError(f"cannot load MBPP from the hub ({type(exc).__name__}); {HOW}") from None
    if any("task_id" not in r for r in records):
        raise EvalError(f"{data_path}: MBPP records need task_id, text, code, test_list; {HOW}")
    if len(records) > 500:  # the full file: keep the test split, as the harness's dataset does
        records = [r for r in records if r["task_id"] in TEST_IDS]
    for r in records:
        missing = {"text", "test_list"} - set(r)
        if missing:
            raise EvalError(f"{data_path}: MBPP record {r['task_id']} lacks {sorted(missing)}; {HOW}")
    return sorted(records, key=lambda r: r["task_id"])


@register_task("mbpp")
class MbppTask(Task):
    """500 test problems (arXiv 2108.07732), prompted with the description and one test."""

    stop_words = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")

    def problems(self) -> list[Problem]:
        out = []
        for r in load_mbpp_records(self.data_path):
            out.append(Problem(task_id=f"mbpp/{r['task_id']}", prompt=f'"""\n{r["text"]}\n{r["test_list"][0]}\n"""\n',
                               test="\n".join(r["test_list"]), canonical_solution=r.get("code", ""),
                               extra={"test_setup_code": r.get("test_setup_code", "")}))
        return out

    def reference(self, problem: Problem) -> str:
        return problem.test

    def canonical_generation(self, problem: Problem) -> str:
        return problem.prompt + problem.canonical_solution
