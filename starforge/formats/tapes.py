"""Tapes: every RL rollout and every eval sample as typed JSONL steps (the "tape" idea of arXiv
2412.08445, without the TapeAgents package). One writer (`Tape`) and one reader (`read_tape`),
shared by the two stages that write them, `finetune rl` and `eval --tape_path`, so neither imports
the other; `finetune tapes-to-sft` reads both. The format is documented in docs/formats.md ("Tapes").

One line per step. Every line has `type`, `run_id`, `step` (the RL step that generated it; 0 in
eval), `problem_id`, `category`, `model_revision`; then by type:

- `prompt`: `text`;
- `completion`: `sample` (index in the group), `text` (raw), `kind` (`rollout` or `eval`);
- `execution`: `sample`, `status` (ok / syntax_error / timeout), `tests` (per test: `test`,
  `passed`, `result` as the sandbox reports it, `seconds`);
- `reward`: `sample`, `value` (fraction of tests passed; 1 or 0 where the whole check is one test);
- `advantage`: `sample`, `value` (GRPO's group-normalised advantage);
- `curriculum`: `state` (Q, counts, probabilities per arm), with `problem_id` and `category` null.

Resume: `Tape.truncate(step)` moves lines with `step >= step` (rollouts whose update was not
checkpointed) to `<tape>.discarded.jsonl`, so the resumed run regenerates them once: nothing is
repeated in the tape and nothing written is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starforge.errors import FormatError
from starforge.formats.jsonl import read_jsonl

HOW = "tapes are written by `starforge finetune rl` and `starforge eval --tape_path`"
TYPES = ("prompt", "completion", "execution", "reward", "advantage", "curriculum")


@dataclass
class Execution:
    """What the sandbox said about one sample, as the tape records it."""

    reward: float
    tests: list[dict[str, Any]]
    """Per test: {"test", "passed", "result", "seconds"}."""
    status: str
    """ok (every test ran), syntax_error, or timeout (at least one test timed out)."""


class Tape:
    """Appends steps to `path` (opened in append mode: a resumed run or a second eval adds to it)."""

    def __init__(self, path: str | Path, run_id: str, model_revision: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.model_revision = model_revision
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, type_: str, step: int, problem_id: str | None, category: str | None, **fields: Any) -> None:
        rec = {"type": type_, "run_id": self.run_id, "step": step, "problem_id": problem_id,
               "category": category, "model_revision": self.model_revision, **fields}
        self._fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def sample(self, step: int, problem_id: str, category: str, prompt: str, completion: str,
               execution: Execution, sample: int, kind: str = "rollout", advantage: float | None = None) -> None:
        """One sample's steps: its problem's `prompt` (with sample 0), `completion`, `execution`,
        `reward` and, for RL, `advantage`."""
        if sample == 0:
            self.write("prompt", step, problem_id, category, text=prompt)
        self.write("completion", step, problem_id, category, sample=sample, text=completion, kind=kind)
        self.write("execution", step, problem_id, category, sample=sample, status=execution.status,
                   tests=execution.tests)
        self.write("reward", step, problem_id, category, sample=sample, value=execution.reward)
        if advantage is not None:
            self.write("advantage", step, problem_id, category, sample=sample, value=advantage)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Tape:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def truncate(path: str | Path, step: int) -> int:
        """Keep lines with `step < step`; move the rest to `<path>.discarded.jsonl`. Returns moved count."""
        path = Path(path)
        if not path.is_file():
            return 0
        keep, moved = [], []
        with path.open(encoding="utf-8") as fh:  # lines end at "\n" only, not at U+2028 in a text
            lines = list(fh)
        for line in lines:
            try:
                s = json.loads(line)["step"]
            except (ValueError, KeyError):
                moved.append(line)  # a line cut by the kill
                continue
            (keep if s < step else moved).append(line)
        if moved:
            with path.with_suffix(".discarded.jsonl").open("a", encoding="utf-8") as fh:
                fh.writelines(moved)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(keep), encoding="utf-8")
        tmp.replace(path)
        return len(moved)


_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "prompt": {"text": (str,)},
    "completion": {"sample": (int,), "text": (str,)},
    "execution": {"sample": (int,), "status": (str,), "tests": (list,)},
    "reward": {"sample": (int,), "value": (int, float)},
    "advantage": {"sample": (int,), "value": (int, float)},
    "curriculum": {"state": (dict,)},
}
"""Fields each step type carries beyond the common ones, with their JSON types."""


def _step(rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise TypeError("expected a JSON object")
    kind = rec["type"]
    if not isinstance(kind, str) or kind not in TYPES:
        raise ValueError(f"unknown type {kind!r}")
    fields = {"run_id": (str,), "step": (int,), "problem_id": (str, type(None)), "category": (str, type(None)),
              **_FIELDS[kind]}
    for name, types in fields.items():
        value = rec[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ValueError(f"{kind} step: field {name!r} is {type(value).__name__}, expected "
                             + " or ".join("null" if t is type(None) else t.__name__ for t in types))
    return rec


def read_tape(path: str | Path) -> Iterator[dict[str, Any]]:
    """The steps of one tape, in order; a line that is not a tape step is a FormatError naming
    file and line."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: tape not found")
    return read_jsonl(path, _step, what="a tape step", how=HOW, loads=json.loads)
