"""Self-Evolving Curriculum (arXiv 2505.14970): problem categories are the arms of a
non-stationary bandit.

After each RL step each sampled arm gets reward r = mean |advantage| of its problems in that
batch (the immediate learning gain: solved and hopeless problems have zero advantage), and
`Q <- alpha * r + (1 - alpha) * Q` (TD(0)). The next batch's categories are drawn from
softmax(Q / tau). `update: false` is the random curriculum: the same code, Q stays 0, so draws
are uniform over arms.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CurriculumConfig:
    update: bool = True
    """false: random curriculum (uniform over categories, Q never updated)."""
    alpha: float = 0.3
    """TD(0) step size."""
    tau: float = 0.1
    """Boltzmann temperature; lower is greedier."""


class Curriculum:
    def __init__(self, arms: Sequence[str], cfg: CurriculumConfig | None = None):
        self.cfg = cfg or CurriculumConfig()
        self.arms = sorted(set(arms))
        self.q = {a: 0.0 for a in self.arms}
        self.counts = {a: 0 for a in self.arms}
        self.updates = 0

    def probabilities(self) -> dict[str, float]:
        tau = max(self.cfg.tau, 1e-6)
        top = max(self.q.values())
        w = {a: math.exp((q - top) / tau) for a, q in self.q.items()}
        z = sum(w.values())
        return {a: v / z for a, v in w.items()}

    def sample(self, rng: random.Random) -> str:
        probs = self.probabilities()
        x, acc = rng.random(), 0.0
        for arm in self.arms:
            acc += probs[arm]
            if x < acc:
                return arm
        return self.arms[-1]

    def update(self, rewards: dict[str, float]) -> None:
        """`rewards`: arm -> mean |advantage| of its samples in the last batch."""
        for arm, r in rewards.items():
            if arm not in self.q:
                continue
            self.counts[arm] += 1
            if self.cfg.update:
                self.q[arm] = self.cfg.alpha * r + (1 - self.cfg.alpha) * self.q[arm]
        self.updates += 1

    def state(self) -> dict[str, Any]:
        return {"q": dict(self.q), "counts": dict(self.counts), "updates": self.updates,
                "probabilities": self.probabilities(), "update": self.cfg.update}

    def load_state(self, state: dict[str, Any]) -> None:
        self.q.update({k: float(v) for k, v in state["q"].items()})
        self.counts.update({k: int(v) for k, v in state["counts"].items()})
        self.updates = int(state["updates"])

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.state(), indent=2), encoding="utf-8")

    def load(self, path: Path) -> None:
        self.load_state(json.loads(Path(path).read_text(encoding="utf-8")))
