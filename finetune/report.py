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


def _moving_average(values: list[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def write_report(path: Path, rl_dir: Path | None = None, sft_dir: Path | None = None) -> Path | None:
    """report.png at `path` from an RL output dir and/or an SFT output dir; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sft_rows = _rows(sft_dir / "metrics.jsonl") if sft_dir else []
    rl_rows = _rows(rl_dir / "metrics.jsonl") if rl_dir else []
    offset = max((r["step"] for r in sft_rows if "step" in r), default=0)
    fig, (ax_loss, ax_reward, ax_cur) = plt.subplots(1, 3, figsize=(14, 3.4))

    for key, label in (("loss", "SFT train loss"), ("eval_loss", "SFT valid loss")):
        pts = [(r["step"], r[key]) for r in sft_rows if key in r and "step" in r]
        if pts:
            ax_loss.plot(*zip(*pts), label=label)
    pts = [(offset + r["step"], r["loss"]) for r in rl_rows if "loss" in r and "reward" in r]
    if pts:
        ax_loss.plot(*zip(*pts), label="GRPO loss")
    if sft_rows and rl_rows:
        ax_loss.axvline(offset, color="grey", linestyle=":", label="SFT -> RL")
    ax_loss.set_title("loss")
    ax_loss.set_xlabel("optimizer step")
    if ax_loss.lines:
        ax_loss.legend(fontsize=7)

    pts = [(r["step"], r["reward"]) for r in rl_rows if "reward" in r and "step" in r]
    if pts:
        steps, rewards = zip(*pts)
        ax_reward.plot(steps, rewards, alpha=0.4, label="per step")
        ax_reward.plot(steps, _moving_average(list(rewards), 10), label="10-step mean")
        ax_reward.legend(fontsize=7)
    ax_reward.set_title("RL reward (fraction of tests passed)")
    ax_reward.set_xlabel("RL step")

    states = curriculum_states(rl_dir / "tape.jsonl") if rl_dir else []
    arms = sorted({a for _, s in states for a in s["q"]})
    for i, arm in enumerate(arms):
        color = f"C{i}"
        ax_cur.plot([st for st, _ in states], [s["q"][arm] for _, s in states], color=color, label=f"Q {arm}")
        ax_cur.plot([st for st, _ in states], [s["probabilities"][arm] for _, s in states], color=color,
                    linestyle="--", label=f"p {arm}")
    if states:
        mode = "self-evolving" if states[-1][1].get("update", True) else "random (no update)"
        ax_cur.set_title(f"curriculum: {mode}")
        ax_cur.legend(fontsize=6, ncol=2)
    else:
        ax_cur.set_title("curriculum: off (TRL's uniform sampler)" if rl_dir else "curriculum: no RL stage")
    ax_cur.set_xlabel("RL step")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
