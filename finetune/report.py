"""The run report (`report.png`): loss, reward and curriculum curves of an RL run, or of an
SFT -> RL schedule with the SFT loss before the switch.

Read from what the runs leave on disk: `metrics.jsonl` (the HF Trainer's log history) of each
stage, and the `curriculum` steps of the RL tape. Panels:
1. loss per optimizer step: SFT train (and valid, when there is a valid split), then GRPO's
   policy loss, the switch marked (GRPO's loss hovers near 0 by construction: the reward panel
   shows RL's progress);
2. mean reward of each RL step's rollouts and its 10-step moving average;
3. curriculum Q per arm (solid) and draw probability per arm (dashed), or a note that problems
   were drawn by TRL's uniform sampler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _rows(metrics: Path) -> list[dict[str, Any]]:
    if not metrics.is_file():
        return []
    return [json.loads(x) for x in metrics.read_text(encoding="utf-8").splitlines() if x.strip()]


def curriculum_states(tape: Path) -> list[tuple[int, dict[str, Any]]]:
    """(step, state) of every `curriculum` line of an RL tape."""
    out = []
    if tape.is_file():
        for line in tape.open(encoding="utf-8"):
            if '"type": "curriculum"' in line:
                rec = json.loads(line)
                out.append((rec["step"], rec["state"]))
    return out


def write_report(path: Path, rl_dir: Path | None = None, sft_dir: Path | None = None) -> Path:
    """report.png at `path` from an RL output dir and/or an SFT output dir (`starforge/plots.py`
    draws it)."""
    from starforge.plots import loss_points, plot_rl_run

    sft_rows = _rows(sft_dir / "metrics.jsonl") if sft_dir else []
    rl_rows = _rows(rl_dir / "metrics.jsonl") if rl_dir else []
    offset = max((r["step"] for r in sft_rows if "step" in r), default=0)
    loss = {"SFT train loss": loss_points(sft_rows, "loss"), "SFT valid loss": loss_points(sft_rows, "eval_loss"),
            "GRPO loss": [(offset + r["step"], r["loss"]) for r in rl_rows if "loss" in r and "reward" in r]}
    rewards = loss_points(rl_rows, "reward")
    states = curriculum_states(rl_dir / "tape.jsonl") if rl_dir else []
    note = "curriculum: off (TRL's uniform sampler)" if rl_dir else "curriculum: no RL stage"
    return plot_rl_run(path, loss, offset if sft_rows and rl_rows else None, rewards, states, note)
