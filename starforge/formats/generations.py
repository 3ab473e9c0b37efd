"""Evaluation outputs in bigcode-evaluation-harness's formats (docs/formats.md, "Evaluation
outputs"), as its `main.py` and `bigcode_eval/evaluator.py` write them:

- generations: `<save_generations_path stem>_<task>.json`, a JSON list with one list of strings
  (full programs: prompt + completion) per problem; a harness-written file reads the same;
- references: `<save_references_path stem>_<task>.json`, a JSON list with one string per problem;
- metrics: `metric_output_path`, `{task: {"pass@1": ...}, "config": {...}}` (indent 2);
- ours: per-problem results beside the metrics, `<metric stem>_<task>_problems.jsonl`.

Writer: `starforge eval` (eval/evaluate.py). Readers: `starforge eval --load_generations_path`
(`read_generations`), and whoever reports on an eval run (`read_metrics`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starforge.errors import FormatError
from starforge.formats.jsonl import write_jsonl

HOW = "expected the harness's generations format [[\"...\", ...], ...]"


def task_path(path: str | Path, task: str, suffix: str = ".json") -> Path:
    """`<stem>_<task><suffix>` beside `path`: the harness appends the task name to every output."""
    p = Path(path)
    return p.with_name(f"{p.stem}_{task}{suffix}")


def _write_json(path: Path, value: Any, indent: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=indent), encoding="utf-8")
    return path


def write_generations(path: str | Path, generations: list[list[str]]) -> Path:
    return _write_json(Path(path), generations)


def read_generations(path: str | Path) -> list[list[str]]:
    """A generations file: a non-empty JSON list of lists of strings, one list per problem; anything
    else is a one-line FormatError naming the file (and the item)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"--load_generations_path {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc}); expected a list of lists of strings") from None
    if not isinstance(data, list) or not data:
        raise FormatError(f"{path}: expected a non-empty JSON list (one list of generations per problem)")
    for i, gens in enumerate(data):
        if not isinstance(gens, list) or not all(isinstance(g, str) for g in gens):
            raise FormatError(f"{path}: item {i} is not a list of strings; {HOW}")
    return data


def write_references(path: str | Path, references: list[str]) -> Path:
    return _write_json(Path(path), references)


def write_metrics(path: str | Path, metrics: dict[str, Any]) -> Path:
    """`{task: {metric: value}, "config": {...}}`, indented as the harness writes it."""
    return _write_json(Path(path), metrics, indent=2)


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A metrics file: a JSON object of tasks (and `config`); FormatError otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"{path}: unreadable metrics file ({exc.strerror or exc}); run `starforge eval`") from None
    except ValueError as exc:
        raise FormatError(f"{path}: not valid JSON ({exc}); expected the metrics `starforge eval` writes") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise FormatError(f"{path}: expected a JSON object of tasks, each an object of metrics")
    return data


def write_problem_results(path: str | Path, records: Iterable[dict[str, Any]]) -> Path:
    """Per-problem results, one JSON line per problem."""
    write_jsonl(path, records)
    return Path(path)
