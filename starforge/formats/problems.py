"""Problems with unit tests: what `finetune rl` rewards and evaluates on (docs/formats.md,
"Problems").

JSON lines, one problem a line. Written by `starforge eval --save_problems` (a benchmark's
problems: category = the task name, each test the task's whole check program) and by
`starforge finetune problems` (the generated family: one `assert` a test); read by `finetune rl`
and `finetune sft-rl`. Fields:

- `id` (str), `prompt` (str: the text the model continues), `tests` (list of str: each a Python
  test run after `prompt + completion`, its own sandboxed program), `category` (str: the
  curriculum's arm) - `prompt`, `tests` and `category` are required;
- `entry_point` (str, the function under test, "" when the tests name it), `stop_words` (list
  of str: where a completion is cut before it runs, the task's own), `timeout` (seconds per
  test program, null: the sandbox's), `solution` (a reference completion, "" if none), `split`;
- any other key is kept in `extra` (the generated family writes `kind` and `level`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from starforge.errors import FormatError

P = TypeVar("P", bound="ProblemRecord")


@dataclass
class ProblemRecord:
    id: str
    prompt: str
    tests: list[str]
    category: str
    entry_point: str = ""
    stop_words: list[str] = field(default_factory=list)
    timeout: float | None = None
    solution: str = ""
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data.update(data.pop("extra"))
        return json.dumps(data, ensure_ascii=False)


def write_problems(problems: Iterable[ProblemRecord], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for p in problems:
            fh.write(p.to_json() + "\n")
    return path


_TYPES: dict[str, tuple[type, ...]] = {"id": (str,), "prompt": (str,), "tests": (list,), "category": (str,),
                                       "entry_point": (str,), "stop_words": (list,), "timeout": (int, float),
                                       "solution": (str,), "split": (str,)}


def read_problems(path: str | Path, cls: type[P] = ProblemRecord) -> list[P]:  # type: ignore[assignment]
    """Every problem of a problems file, as `cls` (a `ProblemRecord` or a subclass whose extra
    fields have defaults); a missing field, a wrong type or a test that does not parse raises
    `FormatError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: problems file not found")
    known = {f.name for f in fields(cls)} - {"extra"}
    problems = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason}); expected problems JSON lines") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise FormatError(f"{where}: expected an object with prompt, tests, category")
        for key in ("prompt", "tests", "category"):
            if key not in rec:
                raise FormatError(f"{where}: missing field '{key}'; a problem needs prompt, tests, category")
        for key, types in _TYPES.items():
            if key in rec and not (isinstance(rec[key], types) and not isinstance(rec[key], bool)
                                   or key == "timeout" and rec[key] is None):
                raise FormatError(f"{where}: field '{key}' must be {types[0].__name__}, got {type(rec[key]).__name__}")
        if rec.get("timeout") is not None and not rec["timeout"] > 0:
            raise FormatError(f"{where}: field 'timeout' must be > 0 seconds or null")
        if not all(isinstance(w, str) and w for w in rec.get("stop_words", [])):
            raise FormatError(f"{where}: stop_words must be non-empty strings")
        for i, test in enumerate(rec["tests"]):
            if not isinstance(test, str):
                raise FormatError(f"{where}: tests[{i}] must be a string")
            try:
                ast.parse(test)
            except SyntaxError as exc:
                raise FormatError(f"{where}: tests[{i}] does not parse ({exc.msg}): {test[:60]!r}") from None
        if not rec["tests"]:
            raise FormatError(f"{where}: 'tests' is empty; a problem needs at least one test")
        values = {k: v for k, v in rec.items() if k in known}
        values.setdefault("id", f"{path.stem}/{lineno}")
        try:
            problems.append(cls(**values, extra={k: v for k, v in rec.items() if k not in known}))
        except TypeError as exc:
            raise FormatError(f"{where}: {exc}") from None
    if not problems:
        raise FormatError(f"{path}: no problems")
    return problems
