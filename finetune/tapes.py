"""Tapes of this stage: `finetune rl` writes `tape.jsonl` (rollouts) and `eval_tape.jsonl`
(held-out greedy samples) with `starforge.tape.Tape` (the shared writer and reader; the format
is in its docstring and docs/formats.md), and `tapes_to_sft` turns successful samples of any
tape, RL's or `starforge eval --tape_path`'s, back into SFT data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starforge.tape import TYPES, Tape, read_tape

__all__ = ["TYPES", "Tape", "read_tape", "contamination_texts", "tapes_to_sft"]


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
