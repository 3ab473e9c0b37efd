"""starforge/plots.py: each picture is a real PNG of the expected shape, from real-shaped data."""

from __future__ import annotations

import pytest

from starforge import plots

FUNNEL = {"input": {"docs": 120, "bytes": 2_400_000},
          "steps": [{"step": "binary", "docs_in": 120, "docs_out": 110, "bytes_in": 2_400_000, "bytes_out": 2_000_000,
                     "tokens_in": 0, "tokens_out": 0, "removed": {"binary": 10}},
                    {"step": "licence", "docs_in": 110, "docs_out": 90, "bytes_in": 2_000_000,
                     "bytes_out": 1_500_000, "tokens_in": 400_000, "tokens_out": 300_000,
                     "removed": {"no_licence": 15, "non_permissive": 5}}],
          "kept": {"docs": 90, "bytes": 1_500_000, "tokens": 300_000}}


def image(path):
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)


def test_funnel_grows_with_its_steps(tmp_path):
    small = image(plots.plot_funnel({**FUNNEL, "steps": FUNNEL["steps"][:1]}, tmp_path / "a.png"))
    big = image(plots.plot_funnel(FUNNEL, tmp_path / "b.png"))
    assert big.shape[0] > small.shape[0] and big.shape[1] == small.shape[1] == 1600


def test_loss_from_pretrain_records_and_trainer_history(tmp_path):
    records = [{"step": s, "split": "train", "loss": 5 - s / 10} for s in range(1, 20)]
    records += [{"step": 10, "split": "valid", "loss": 4.2}, {"step": 5, "lr": 1e-3}]
    assert plots.loss_points(records, split="valid") == [(10, 4.2)]
    assert len(plots.loss_points(records, split="train")) == 19  # the lr-only record is no loss point
    assert image(plots.plot_metrics_loss(records, tmp_path / "loss.png")).shape[:2] == (400, 700)
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5, "eval_loss": 1.7}]
    assert image(plots.plot_history_loss(history, tmp_path / "sft.png")).shape[:2] == (300, 500)


def test_pass_at_k_ignores_config_and_non_pass_keys(tmp_path):
    metrics = {"humaneval": {"pass@1": 0.12, "pass@10": 0.3, "n": 164}, "config": {"n_samples": 10}}
    assert image(plots.plot_pass_at_k(metrics, tmp_path / "p.png")).shape[2] in (3, 4)


def test_rl_run_with_and_without_curriculum(tmp_path):
    states = [(s, {"q": {"easy": 0.1 * s, "hard": 0.0}, "probabilities": {"easy": 0.6, "hard": 0.4}, "update": True})
              for s in range(1, 6)]
    loss = {"SFT train loss": [(1, 2.0), (2, 1.8)], "GRPO loss": [(3, 0.01), (4, -0.02)]}
    image(plots.plot_rl_run(tmp_path / "r.png", loss, 2, [(1, 0.0), (2, 0.5)], states, "unused"))
    image(plots.plot_rl_run(tmp_path / "n.png", {}, None, [], [], "curriculum: off"))


@pytest.mark.parametrize("window,expected", [(1, [1.0, 3.0, 5.0]), (2, [1.0, 2.0, 4.0])])
def test_moving_average(window, expected):
    assert plots.moving_average([1.0, 3.0, 5.0], window) == expected
