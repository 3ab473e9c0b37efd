"""Seq-VCR: its value against a direct NumPy computation, the collapse metric, config errors,
and the megatron-core trainer wiring (forward hook on the right tensor, metrics, checkpoint)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from pretrain.config import load_train_config, resolve
from pretrain.metrics import read_metrics
from pretrain.seqvcr import SeqVcrConfig, SeqVcrRegularizer, seqvcr_terms, spectrum_entropy
from pretrain.train import train
from starforge.errors import ConfigError

RUN = Path(__file__).resolve().parents[2] / "configs" / "runs" / "seqvcr-pretrain-tiny.yaml"


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


@pytest.mark.parametrize("override,message", [
    ("seqvcr.lambda_var=-0.5", r"seqvcr.lambda_var=-0.5 must be >= 0"),
    ("seqvcr.lambda_cov=-1", r"seqvcr.lambda_cov=-1.0 must be >= 0"),
])
def test_negative_lambda_is_one_line_config_error(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_train_config(RUN, [override])
    assert "\n" not in str(info.value)


def test_layer_outside_the_model_is_one_line_config_error():
    cfg = load_train_config(RUN, ["seqvcr.layer=3", "model.vocab_size=512"])  # tiny has 2 layers
    with pytest.raises(ConfigError, match=r"seqvcr.layer=3 is outside the model's layers 1..2") as info:
        resolve(cfg, None)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=r"seqvcr.layer=0"):
        resolve(load_train_config(RUN, ["seqvcr.layer=0", "model.vocab_size=512"]), None)


def test_seqvcr_with_recompute_is_refused():
    with pytest.raises(ConfigError, match="seqvcr with recompute=true"):
        resolve(load_train_config(RUN, ["recompute=true", "model.vocab_size=512"]), None)


def test_run_preset_switches_it_on_and_default_is_off():
    cfg = load_train_config(RUN)
    assert cfg.seqvcr == SeqVcrConfig(projection_size=512)
    assert load_train_config(None).seqvcr is None
    assert SeqVcrConfig() == SeqVcrConfig(layer=None, projection_size=2048, lambda_var=1.0, lambda_cov=0.004,
                                          eps=1e-3)


def test_hook_captures_the_last_layer_output_that_feeds_the_lm_head(corpus):
    """At TP=1: final LayerNorm + tied output layer applied to the captured states give the
    model's own logits, so the hook sits on the tensor the paper regularises."""
    from pretrain import parallel, seqvcr
    from pretrain.model import ModelConfig, build_model
    from pretrain.step import causal_mask

    cfg = ModelConfig(num_layers=2, hidden_size=32, num_attention_heads=4, max_position_embeddings=16,
                      vocab_size=64, attention_dropout=0.0, hidden_dropout=0.0)
    torch.manual_seed(0)
    parallel.init_parallel(cfg, parallel.ParallelConfig(), 0)
    try:
        model = build_model(cfg)
        capture = seqvcr.attach(model, SeqVcrConfig(projection_size=8), cfg.num_layers, cfg.hidden_size)
        ids = torch.randint(0, 64, (3, 10))
        logits = model(ids, torch.arange(10).expand(3, 10), causal_mask(10, ids.device))  # [b, s, v]
        hidden = capture.pop()
        assert hidden.shape == (3, 10, 32) and hidden.requires_grad
        again = model.decoder.final_layernorm(hidden) @ model.shared_embedding_or_output_weight().T
        torch.testing.assert_close(again, logits, rtol=1e-5, atol=1e-5)
        assert any(name.startswith("seqvcr.projection") for name, _ in model.named_parameters())
    finally:
        parallel.shutdown()


def tiny(corpus, out, *overrides):
    base = {"tokenizer": str(corpus["tokenizer"]), "out_dir": str(out),
            "data": {"sources": [{"path": str(corpus["shards"])}], "valid_fraction": 0.05}}
    sets = ["model.seq_length=32", "model.hidden_size=64", "micro_batch_size=4", "log_interval=1",
            "eval_interval=null", "optim.warmup_steps=1", "tensorboard=false", "train_steps=3", *overrides]
    return load_train_config(None, sets, **base)


def test_trainer_adds_the_term_and_logs_the_collapse_metric(corpus, tmp_path):
    out = tmp_path / "on"
    summary = train(tiny(corpus, out, "seqvcr.projection_size=32"))
    records = [r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"]
    assert len(records) == 3
    for r in records:
        assert r["seqvcr_var"] > 0 and r["seqvcr_cov"] >= 0
        assert 0 < r["seqvcr_entropy"] <= np.log(64) + 1e-9
        assert r["seqvcr_effective_rank"] == pytest.approx(np.exp(r["seqvcr_entropy"]))
    assert Path(summary["checkpoint"]).is_dir() and np.isfinite(summary["final_loss"])


def test_off_by_default_leaves_the_run_unchanged(corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(tiny(corpus, a))
    train(tiny(corpus, b, "seqvcr.projection_size=32", "seqvcr.lambda_var=0", "seqvcr.lambda_cov=0"))
    off = [r for r in read_metrics(a / "metrics.jsonl") if r["split"] == "train"]
    zero = [r for r in read_metrics(b / "metrics.jsonl") if r["split"] == "train"]
    assert not any(k.startswith("seqvcr") for r in off for k in r)
    # lambdas of 0 add a zero term: the same losses as the run without Seq-VCR
    assert [r["loss"] for r in zero] == pytest.approx([r["loss"] for r in off], rel=1e-6)


def test_seqvcr_with_pipeline_stages_is_refused():
    with pytest.raises(ConfigError, match="seqvcr with parallel.pipeline_parallel=2"):
        resolve(load_train_config(RUN, ["parallel.pipeline_parallel=2", "model.vocab_size=512"]), None)


@pytest.mark.slow
def test_tensor_parallel_two_gives_the_same_seqvcr_terms_and_losses(corpus, tmp_path):
    """TP=2 under torchrun (gloo): the layer output is full width on both ranks, the projection is
    replicated, so the Seq-VCR terms, the entropy and the losses match one process."""
    import os
    import socket
    import subprocess
    import sys

    def config(name, *extra):
        lines = [f"tokenizer: {corpus['tokenizer']}", "data:", f"  sources: [{{path: {corpus['shards']}}}]",
                 "  valid_fraction: 0.05", "fim: null", "model: {seq_length: 32, hidden_size: 64}",
                 "micro_batch_size: 4", "log_interval: 1", "eval_interval: null", "tensorboard: false",
                 "train_steps: 4", "optim: {warmup_steps: 1, lr: 0.003}", f"out_dir: {tmp_path / name}",
                 "seqvcr: {projection_size: 32}", *extra]
        path = tmp_path / f"{name}.yaml"
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for args in ([sys.executable, "-m", "starforge", "pretrain", "train", "--config", config("tp1")],
                 [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
                  "-m", "starforge", "pretrain", "train", "--config",
                  config("tp2", "parallel: {tensor_parallel: 2}")]):
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (read_metrics(tmp_path / n / "metrics.jsonl") for n in ("tp1", "tp2"))
    assert len(one) == len(two) == 4
    for a, b in zip(one, two):
        for key in ("loss", "seqvcr_var", "seqvcr_cov", "seqvcr_entropy"):
            assert b[key] == pytest.approx(a[key], rel=2e-3, abs=1e-5), (a["step"], key)
