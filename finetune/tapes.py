"""Tapes: every rollout and eval sample as typed JSONL steps (the "tape" idea of arXiv
2412.08445, without the TapeAgents package), resumable and convertible back into SFT data.

One line per step. Every line has `type`, `run_id`, `step` (the RL step that generated it),
`problem_id`, `category`, `model_revision`; then by type:

- `prompt`: `text`;
- `completion`: `sample` (index in the group), `text` (raw), `kind` (`rollout` or `eval`);
- `execution`: `sample`, `status` (ok / syntax_error / timeout), `tests` (per test: `test`,
  `passed`, `result` as the sandbox reports it, `seconds`);
- `reward`: `sample`, `value` (fraction of tests passed);
- `advantage`: `sample`, `value` (GRPO's group-normalised advantage);
- `curriculum`: `state` (Q, counts, probabilities per arm), with `problem_id` and `category` null.

Resume: `Tape.truncate(step)` moves lines with `step >= step` (rollouts whose update was not
checkpointed) to `<tape>.discarded.jsonl`, so the resumed run regenerates them once: nothing is
repeated in the tape and nothing written is lost.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from starforge.errors import FormatError

TYPES = ("prompt", "completion", "execution", "reward", "advantage", "curriculum")


class Tape:
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

    def sample(self, step: int, problem_id: str, category: str, prompt: str, completion: str, execution,
               sample: int, kind: str = "rollout", advantage: float | None = None) -> None:
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

    @staticmethod
    def truncate(path: str | Path, step: int) -> int:
        """Keep lines with `step < step`; move the rest to `<path>.discarded.jsonl`. Returns moved count."""
        path = Path(path)
        if not path.is_file():
            return 0
        keep, moved = [], []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
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


def read_tape(path: str | Path) -> Iterator[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: tape not found")
    for lineno, line in enumerate(path.open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if rec["type"] not in TYPES:
                raise ValueError(f"unknown type {rec['type']!r}")
            rec["step"], rec["run_id"]  # noqa: B018 - required fields
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"{path}:{lineno}: not a tape step ({exc}); tapes are written by "
                              "`starforge finetune rl`") from None
        yield rec


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _windows(text: str, n: int) -> set[str]:
    t = _norm(text)
    return {t[i:i + n] for i in range(0, max(1, len(t) - n + 1), 1)} if len(t) >= n else {t}


def contamination_texts(task_names: Iterable[str]) -> list[str]:
    """Prompts and reference solutions of the named `eval` tasks (those that load offline)."""
    from eval.tasks import get_task

    texts = []
    for name in task_names:
        task = get_task(name)
        try:
            for p in task.problems():
                texts.extend([p.prompt, p.canonical_solution])
        except Exception as exc:  # noqa: BLE001 - a task without local data is skipped, said once
            import logging

            logging.getLogger(__name__).warning("tapes-to-sft: cannot load task %s for decontamination (%s)",
                                                name, str(exc).splitlines()[0][:120])
    return [t for t in texts if t]


def tapes_to_sft(tapes: Iterable[str | Path], output: str | Path, min_reward: float = 1.0,
                 decontaminate: Iterable[str] = (), window: int = 50) -> dict[str, Any]:
    """Successful rollouts (reward >= `min_reward`) as `{"prompt", "solution"}` SFT records:
    deduplicated on (prompt, cut completion), and dropped when the prompt or the solution shares
    a `window`-character span (whitespace-normalised) with any text in `decontaminate`."""
    from finetune.rewards import cut_completion

    banned: set[str] = set()
    for text in decontaminate:
        banned |= _windows(text, window)
    prompts: dict[tuple, str] = {}
    completions: dict[tuple, dict] = {}
    rewards: dict[tuple, float] = {}
    for tape in tapes:
        for rec in read_tape(tape):
            key = (rec["run_id"], rec["step"], rec["problem_id"])
            if rec["type"] == "prompt":
                prompts[key] = rec["text"]
            elif rec["type"] == "completion":
                completions[key + (rec["sample"],)] = rec
            elif rec["type"] == "reward":
                rewards[key + (rec["sample"],)] = rec["value"]
    seen: set[str] = set()
    counts = {"samples": len(completions), "below_threshold": 0, "duplicate": 0, "contaminated": 0, "kept": 0}
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for skey, rec in completions.items():
            if rewards.get(skey, 0.0) < min_reward:
                counts["below_threshold"] += 1
                continue
            prompt = prompts.get(skey[:3], "")
            solution = cut_completion(rec["text"]).rstrip() + "\n"
            digest = hashlib.sha1((_norm(prompt) + "\0" + _norm(solution)).encode()).hexdigest()
            if digest in seen:
                counts["duplicate"] += 1
                continue
            seen.add(digest)
            if banned and ((_windows(prompt, window) | _windows(solution, window)) & banned):
                counts["contaminated"] += 1
                continue
            fh.write(json.dumps({"prompt": prompt, "solution": solution, "problem_id": rec["problem_id"],
                                 "category": rec["category"], "source": f"{rec['run_id']}@{rec['step']}"}) + "\n")
            counts["kept"] += 1
    counts["output"] = str(out)
    return counts
