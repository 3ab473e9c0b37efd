"""Seq-VCR's terms against a direct NumPy computation, and the collapse metric
(`starforge/modeling/seqvcr.py`); the trainers' wiring is tested in tests/pretrain and
tests/finetune."""

import numpy as np
import pytest
import torch

from starforge.modeling.seqvcr import SeqVcrConfig, SeqVcrRegularizer, seqvcr_terms, spectrum_entropy


def numpy_seqvcr(x: np.ndarray, eps: float) -> tuple[float, float]:
    """The paper's terms, position by position, with NumPy's covariance (ddof=1)."""
    b, s, d = x.shape
    var_terms, cov_terms = [], []
    for i in range(s):
        c = np.cov(x[:, i, :], rowvar=False)  # [d, d] over the batch
        var_terms.append(np.mean(np.maximum(0.0, 1.0 - np.sqrt(np.diag(c) + eps))))
        off = c - np.diag(np.diag(c))
        cov_terms.append(np.sum(off ** 2) / d)
    return float(np.mean(var_terms)), float(np.mean(cov_terms))


@pytest.mark.parametrize("b,s,d", [(5, 3, 7), (9, 2, 4)], ids=["batch_narrower_than_width", "batch_wider"])
def test_terms_match_numpy(b, s, d):
    rng = np.random.default_rng(0)
    x = rng.normal(scale=0.7, size=(b, s, d))
    var, cov = seqvcr_terms(torch.tensor(x, dtype=torch.float64), eps=1e-3)
    ref_var, ref_cov = numpy_seqvcr(x, 1e-3)
    assert float(var) == pytest.approx(ref_var, rel=1e-5)
    assert float(cov) == pytest.approx(ref_cov, rel=1e-4)


def test_mask_leaves_padding_out_of_the_terms():
    """Right-padded batch: each position's statistics come from the sequences that reach it
    (NumPy on those rows), whatever the padded states hold; a position one sequence reaches is
    left out."""
    rng = np.random.default_rng(1)
    lengths = [6, 6, 4, 3, 1]
    x = rng.normal(scale=0.7, size=(5, 6, 4))
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 1e3  # padding garbage
    var, cov = seqvcr_terms(torch.tensor(x), eps=1e-3, mask=torch.tensor(mask))
    per_position = [numpy_seqvcr(x[mask[:, i]][:, i:i + 1, :], 1e-3) for i in range(6) if mask[:, i].sum() >= 2]
    assert len(per_position) == 6  # every position reached by >= 2 sequences
    assert float(var) == pytest.approx(np.mean([v for v, _ in per_position]), rel=1e-5)
    assert float(cov) == pytest.approx(np.mean([c for _, c in per_position]), rel=1e-4)
    alone = mask.copy()
    alone[1:, 5] = False  # position 5: one sequence only
    var5, _ = seqvcr_terms(torch.tensor(x), eps=1e-3, mask=torch.tensor(alone))
    assert float(var5) == pytest.approx(np.mean([v for v, _ in per_position[:5]]), rel=1e-5)
    full_var, full_cov = seqvcr_terms(torch.tensor(x), eps=1e-3, mask=torch.ones(5, 6, dtype=torch.bool))
    assert (float(full_var), float(full_cov)) == pytest.approx(
        tuple(float(t) for t in seqvcr_terms(torch.tensor(x), eps=1e-3)))


def test_regularizer_value_is_weighted_terms_of_the_projection():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4, 8))
    cfg = SeqVcrConfig(projection_size=10, lambda_var=0.7, lambda_cov=0.3)
    reg = SeqVcrRegularizer(cfg, 8).double()
    w, bias = reg.projection.weight.detach().numpy(), reg.projection.bias.detach().numpy()
    ref_var, ref_cov = numpy_seqvcr(x @ w.T + bias, cfg.eps)
    got = reg(torch.tensor(x))
    assert float(got) == pytest.approx(0.7 * ref_var + 0.3 * ref_cov, rel=1e-5)


def test_collapsed_batch_pays_the_full_variance_penalty_and_gradient_spreads_it():
    x = torch.ones(8, 3, 4, requires_grad=True)  # every sequence identical: zero variance
    var, cov = seqvcr_terms(x + 1e-3 * torch.randn(8, 3, 4), eps=1e-3)
    assert float(var) == pytest.approx(1 - np.sqrt(1e-3), abs=0.01) and float(cov) < 1e-8
    var.backward()
    assert x.grad is not None  # differentiable end to end


def test_entropy_matches_numpy_and_detects_collapse():
    rng = np.random.default_rng(2)
    h = 16
    iso = rng.normal(size=(4000, h))
    assert spectrum_entropy(torch.tensor(iso)) == pytest.approx(np.log(h), abs=0.02)
    mixed = rng.normal(size=(300, h)) * np.linspace(0.1, 2.0, h)
    ev = np.clip(np.linalg.eigvalsh(np.cov(mixed, rowvar=False)), 0, None)
    p = ev / ev.sum()
    assert spectrum_entropy(torch.tensor(mixed)) == pytest.approx(float(-(p * np.log(p)).sum()), rel=1e-9)
    collapsed = np.outer(rng.normal(size=300), rng.normal(size=h))  # rank one
    assert spectrum_entropy(torch.tensor(collapsed)) < 1e-6


def test_entropy_counts_only_masked_tokens():
    x = torch.randn(4, 5, 8, dtype=torch.float64)
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[:, 2:] = True
    assert spectrum_entropy(x, mask) == pytest.approx(spectrum_entropy(x[:, 2:]))


def test_default_config_is_the_papers():
    assert SeqVcrConfig() == SeqVcrConfig(layer=None, projection_size=2048, lambda_var=1.0, lambda_cov=0.004,
                                          eps=1e-3)
