"""Seq-VCR in the megatron-core trainer: config errors and the wiring (forward hook on the right
tensor, metrics, checkpoint). The terms themselves: tests/starforge/modeling/test_seqvcr.py."""

from pathlib import Path

import numpy as np
import pytest
import torch

from pretrain.config import load_train_config, resolve
from pretrain.metrics import read_metrics
from pretrain.train import train
from starforge.errors import ConfigError
from starforge.modeling.seqvcr import SeqVcrConfig

RUN = Path(__file__).resolve().parents[2] / "configs" / "runs" / "seqvcr-pretrain-tiny.yaml"


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


def test_hook_captures_the_last_layer_output_that_feeds_the_lm_head(corpus):
    """At TP=1: final LayerNorm + tied output layer applied to the captured states give the
    model's own logits, so the hook sits on the tensor the paper regularises."""
    from pretrain import parallel, seqvcr_hook
    from pretrain.model import ModelConfig, build_model
    from pretrain.step import causal_mask

    cfg = ModelConfig(num_layers=2, hidden_size=32, num_attention_heads=4, max_position_embeddings=16,
                      vocab_size=64, attention_dropout=0.0, hidden_dropout=0.0)
    torch.manual_seed(0)
    parallel.init_parallel(cfg, parallel.ParallelConfig(), 0)
    try:
        model = build_model(cfg)
        capture = seqvcr_hook.attach(model, SeqVcrConfig(projection_size=8), cfg.num_layers, cfg.hidden_size)
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
