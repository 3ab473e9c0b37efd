"""Training the tiny preset on real shards: outputs, checkpoints, exact resume, bad checkpoints."""

import json
import shutil

import pytest
import yaml

from pretrain.config import load_train_config
from pretrain.metrics import read_metrics
from pretrain.train import train
from starforge.errors import PretrainError


def tiny(corpus, out, *overrides, **values):
    base = {"tokenizer": str(corpus["tokenizer"]), "out_dir": str(out),
            "data": {"sources": [{"path": str(corpus["shards"])}], "valid_fraction": 0.05}}
    sets = ["model.seq_length=64", "model.hidden_size=64", "micro_batch_size=2", "log_interval=1",
            "eval_samples=4", "optim.warmup_steps=2", "optim.lr=0.003", "tensorboard=false", *overrides]
    return load_train_config(None, sets, **{**base, **values})


def train_losses(out):
    return {r["step"]: r["loss"] for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"}


def test_train_writes_metrics_plot_tensorboard_and_checkpoint(corpus, tmp_path):
    out = tmp_path / "run"
    cfg = tiny(corpus, out, "train_steps=12", "eval_interval=6", "tensorboard=true", "grad_accum=2")
    summary = train(cfg)
    records = read_metrics(out / "metrics.jsonl")
    train_recs = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train_recs] == list(range(1, 13))
    assert {"step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu"} <= set(train_recs[0])
    assert [r["step"] for r in records if r["split"] == "valid"] == [6, 12]
    assert summary["final_loss"] < summary["first_loss"]
    assert (out / "loss.png").stat().st_size > 1000 and any((out / "tb").iterdir())
    ckpt = out / "checkpoints" / "iter_0000012"
    assert (out / "checkpoints" / "latest").read_text().strip() == "12"
    assert summary["checkpoint"] == str(ckpt)
    run_cfg = yaml.safe_load((ckpt / "run_config.yaml").read_text())
    assert run_cfg["model"]["vocab_size"] == 512 and run_cfg["model"]["num_query_groups"] == 1
    assert run_cfg["tokenizer"] == str(corpus["tokenizer"].resolve())
    assert json.loads((ckpt / "meta.json").read_text())["consumed_samples"] == 12 * 4


def test_resume_reproduces_the_uninterrupted_losses(corpus, tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    train(tiny(corpus, full, "train_steps=8", "eval_interval=4"))
    train(tiny(corpus, cut, "train_steps=8", "eval_interval=4", "save_interval=3"))
    # Kill at step 3: drop everything after the step-3 checkpoint, then resume.
    shutil.rmtree(cut / "checkpoints" / "iter_0000006")
    shutil.rmtree(cut / "checkpoints" / "iter_0000008")
    (cut / "checkpoints" / "latest").write_text("3\n")
    summary = train(tiny(corpus, cut, "train_steps=8", "eval_interval=4"), resume=True)
    assert summary["start_step"] == 3
    expected, got = train_losses(full), train_losses(cut)
    assert sorted(got) == list(range(1, 9))
    for step in range(4, 9):
        assert got[step] == expected[step], step  # bit-identical on the same machine
    valid = {r["step"]: r["loss"] for r in read_metrics(cut / "metrics.jsonl") if r["split"] == "valid"}
    assert valid[8] == [r["loss"] for r in read_metrics(full / "metrics.jsonl") if r["split"] == "valid"][-1]


def test_resume_from_another_shape_is_one_line_error(corpus, tmp_path):
    out = tmp_path / "run"
    train(tiny(corpus, out, "train_steps=2", "eval_interval=null"))
    with pytest.raises(PretrainError, match=r"checkpoint is for another model shape"):
        train(tiny(corpus, out, "train_steps=4", "eval_interval=null", "model.hidden_size=32"), resume=True)


def test_resume_from_corrupt_checkpoint_is_one_line_error(corpus, tmp_path):
    out = tmp_path / "run"
    train(tiny(corpus, out, "train_steps=2", "eval_interval=null"))
    for f in (out / "checkpoints" / "iter_0000002").glob("*.distcp"):
        f.write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainError, match="iter_0000002: cannot load checkpoint"):
        train(tiny(corpus, out, "train_steps=4", "eval_interval=null"), resume=True)
    (out / "checkpoints" / "iter_0000002" / "meta.json").write_text("{")
    with pytest.raises(PretrainError, match="meta.json: corrupt"):
        train(tiny(corpus, out, "train_steps=4", "eval_interval=null"), resume=True)


def test_resume_without_checkpoint_says_so(corpus, tmp_path):
    with pytest.raises(PretrainError, match="no checkpoint in"):
        train(tiny(corpus, tmp_path / "empty", "train_steps=2"), resume=True)


def test_vocab_smaller_than_tokenizer_is_refused(corpus, tmp_path):
    with pytest.raises(PretrainError, match="tokenizer has 512 tokens but model.vocab_size=100"):
        train(tiny(corpus, tmp_path / "run", "model.vocab_size=100"))


def test_init_from_starts_from_the_base_weights_with_a_fresh_optimizer(corpus, tmp_path):
    base, cont, fresh = tmp_path / "base", tmp_path / "cont", tmp_path / "fresh"
    base_summary = train(tiny(corpus, base, "train_steps=20", "eval_interval=null"))
    cont_summary = train(tiny(corpus, cont, "train_steps=3", "eval_interval=null",
                              f"init_from={base / 'checkpoints'}", "optim.lr=0.0003"))
    fresh_summary = train(tiny(corpus, fresh, "train_steps=3", "eval_interval=null"))
    # Step counting restarts (fresh schedule), but the model already knows what the base learned.
    assert cont_summary["start_step"] == 0 and sorted(train_losses(cont)) == [1, 2, 3]
    assert cont_summary["first_loss"] < fresh_summary["first_loss"] - 0.5
    assert abs(cont_summary["first_loss"] - base_summary["final_loss"]) < 0.5


def test_init_from_another_shape_is_one_line_error(corpus, tmp_path):
    train(tiny(corpus, tmp_path / "base", "train_steps=2", "eval_interval=null"))
    with pytest.raises(PretrainError, match="another model shape"):
        train(tiny(corpus, tmp_path / "cont", "train_steps=2", "eval_interval=null", "model.hidden_size=32",
                   f"init_from={tmp_path / 'base' / 'checkpoints'}"))
    with pytest.raises(PretrainError, match="checkpoint directory not found"):
        train(tiny(corpus, tmp_path / "cont2", "train_steps=2", f"init_from={tmp_path / 'nope'}"))
