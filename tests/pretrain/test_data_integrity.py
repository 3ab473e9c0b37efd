"""Training never reads shards short, past the vocabulary, or of another tokenizer, and never
trains on (or saves) a non-finite loss: each case through the real console script, exit code 2
and one `error:` line. Shards are real (megatron-core's builder, stdlib Python texts), the
tokenizers real BPEs (tests/pretrain/conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from starforge.formats.shards import write_shard_meta
from starforge.formats.tokenizer import fingerprint_of
from tests.console import one_line_error, starforge
from tests.pretrain.conftest import python_texts, write_shards, write_tokenizer


def run_config(tmp_path: Path, tokenizer: Path | None, sources: list[Path], **extra) -> Path:
    cfg = {"out_dir": str(tmp_path / "run"), "data": {"sources": [{"path": str(s)} for s in sources],
                                                      "valid_fraction": 0.05},
           "model": {"seq_length": 64, "hidden_size": 64}, "micro_batch_size": 2, "log_interval": 1,
           "eval_interval": None, "tensorboard": False, "train_steps": 3, "threads": 1,
           "optim": {"warmup_steps": 1, "lr": 0.003}, **extra}
    if tokenizer is not None:
        cfg["tokenizer"] = str(tokenizer)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def stamped_copy(src: Path, dest: Path, tokenizer: Path) -> Path:
    """The shards of `src` with the meta.json `starforge data tokenize` writes, naming `tokenizer`."""
    shutil.copytree(src, dest)
    for idx in dest.glob("*.idx"):
        write_shard_meta(idx.with_suffix(""), fingerprint_of(tokenizer), str(tokenizer), 0)
    return dest


@pytest.fixture(scope="module")
def other_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tokenizer(tmp_path_factory.mktemp("tok_b") / "tokenizer", python_texts(), vocab_size=400)


def test_shards_of_another_tokenizer_are_refused_naming_both(corpus, other_tokenizer, tmp_path):
    theirs = write_shards(tmp_path / "b_shards", other_tokenizer, python_texts())
    stamped = stamped_copy(theirs, tmp_path / "stamped", other_tokenizer)
    msg = one_line_error(starforge("pretrain", "train", "--config",
                                   str(run_config(tmp_path, corpus["tokenizer"], [stamped]))))
    mine, other = fingerprint_of(corpus["tokenizer"]), fingerprint_of(other_tokenizer)
    assert f"sha256 {other['sha256'][:12]} (vocab 400, {other_tokenizer})" in msg
    assert f"sha256 {mine['sha256'][:12]} (vocab 512, {corpus['tokenizer']})" in msg
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow  # trains through the console script
def test_shards_of_the_models_tokenizer_train_and_the_checkpoint_records_it(corpus, tmp_path):
    stamped = stamped_copy(corpus["shards"], tmp_path / "stamped", corpus["tokenizer"])
    proc = starforge("pretrain", "train", "--config", str(run_config(tmp_path, corpus["tokenizer"], [stamped],
                                                                     train_steps=1)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "run" / "checkpoints" / "iter_0000001" / "meta.json").read_text())
    assert meta["tokenizer_fingerprint"] == fingerprint_of(corpus["tokenizer"])


def test_half_shard_left_by_a_killed_tokenize_is_an_error(corpus, tmp_path):
    shards = shutil.copytree(corpus["shards"], tmp_path / "shards")
    shutil.copy(shards / "code.bin", shards / "more.bin")  # its .idx never written
    msg = one_line_error(starforge("pretrain", "train", "--config",
                                   str(run_config(tmp_path, corpus["tokenizer"], [shards]))))
    assert "more.bin: no more.idx beside it" in msg


def test_corrupt_lengths_are_an_error_not_a_short_read(corpus, tmp_path):
    shards = shutil.copytree(corpus["shards"], tmp_path / "shards")
    idx = bytearray((shards / "code.idx").read_bytes())
    first = int(np.frombuffer(bytes(idx[34:38]), dtype=np.int32)[0])
    idx[34:38] = np.array([first // 2], dtype=np.int32).tobytes()  # the first document "shrinks"
    (shards / "code.idx").write_bytes(bytes(idx))
    msg = one_line_error(starforge("pretrain", "train", "--config",
                                   str(run_config(tmp_path, corpus["tokenizer"], [shards]))))
    assert "code.idx: corrupt index" in msg or "code.bin: longer than its index says" in msg


def test_truncated_bin_is_an_error(corpus, tmp_path):
    shards = shutil.copytree(corpus["shards"], tmp_path / "shards")
    data = (shards / "code.bin").read_bytes()
    (shards / "code.bin").write_bytes(data[: len(data) // 2])
    msg = one_line_error(starforge("pretrain", "train", "--config",
                                   str(run_config(tmp_path, corpus["tokenizer"], [shards]))))
    assert "code.bin: truncated" in msg


def test_token_ids_past_the_vocabulary_are_an_error(corpus, tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    folder = tmp_path / "wide"
    folder.mkdir()
    builder = IndexedDatasetBuilder(str(folder / "wide.bin"), dtype=np.uint16)
    ids = np.random.default_rng(0).integers(0, 700, 4000).astype(np.uint16)  # tokenizer: 512 ids
    builder.add_document(ids, [len(ids)])
    builder.finalize(str(folder / "wide.idx"))
    msg = one_line_error(starforge("pretrain", "train", "--config",
                                   str(run_config(tmp_path, corpus["tokenizer"], [folder]))))
    assert "wide.bin" in msg and "outside the model's vocabulary of 512" in msg


def test_corrupt_tokenizer_json_is_an_error_naming_it(corpus, tmp_path):
    tok = shutil.copytree(corpus["tokenizer"], tmp_path / "tok")
    (tok / "tokenizer.json").write_text('{"model": {"type": "BPE", "vocab": ')
    msg = one_line_error(starforge("pretrain", "train", "--config", str(run_config(tmp_path, tok, [corpus["shards"]]))))
    assert f"{tok / 'tokenizer.json'}: not a tokenizer.json" in msg


@pytest.mark.slow  # trains through the console script
def test_nan_loss_stops_training_with_the_step_and_saves_nothing(corpus, tmp_path):
    cfg = run_config(tmp_path, corpus["tokenizer"], [corpus["shards"]], train_steps=6, save_interval=1,
                     optim={"warmup_steps": 1, "lr": 1e30, "clip_grad": None})
    msg = one_line_error(starforge("pretrain", "train", "--config", str(cfg)))
    assert msg.startswith("error: step ")
    step = int(msg.split("step ")[1].split(":")[0])
    assert "not finite" in msg and ("loss is" in msg or "gradient norm is" in msg)
    latest = tmp_path / "run" / "checkpoints" / "latest"
    saved = int(latest.read_text()) if latest.exists() else 0
    assert saved == step - 1  # the checkpoints before it are the finite ones; none at or after it
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in metrics)


@pytest.mark.slow  # trains through the console script
def test_finetune_continue_stops_on_nan_too(corpus, tmp_path):
    (tmp_path / "base").mkdir()
    base = run_config(tmp_path / "base", corpus["tokenizer"], [corpus["shards"]], train_steps=1)
    assert starforge("pretrain", "train", "--config", str(base)).returncode == 0
    cfg = run_config(tmp_path, corpus["tokenizer"], [corpus["shards"]], train_steps=4,
                     optim={"warmup_steps": 1, "lr": 1e30, "clip_grad": None})
    msg = one_line_error(starforge("finetune", "continue", "--from", str(tmp_path / "base" / "run" / "checkpoints"),
                                   "--config", str(cfg)))
    assert "not finite" in msg and msg.startswith("error: step ")
    assert not (tmp_path / "run" / "checkpoints" / "latest").exists()


@pytest.mark.slow  # trains through the console script
def test_finetune_continue_with_another_tokenizer_than_the_checkpoints_is_refused(corpus, other_tokenizer, tmp_path):
    (tmp_path / "base").mkdir()
    base = run_config(tmp_path / "base", corpus["tokenizer"], [corpus["shards"]], train_steps=1)
    assert starforge("pretrain", "train", "--config", str(base)).returncode == 0
    cfg = run_config(tmp_path, other_tokenizer, [corpus["shards"]], train_steps=1)
    msg = one_line_error(starforge("finetune", "continue", "--from", str(tmp_path / "base" / "run" / "checkpoints"),
                                   "--config", str(cfg)))
    assert "the checkpoint was trained with tokenizer" in msg and str(other_tokenizer) in msg


@pytest.mark.slow  # trains through the console script
def test_export_with_another_tokenizer_than_the_checkpoints_is_refused(corpus, other_tokenizer, tmp_path):
    cfg = run_config(tmp_path, corpus["tokenizer"], [corpus["shards"]], train_steps=1)
    assert starforge("pretrain", "train", "--config", str(cfg)).returncode == 0
    msg = one_line_error(starforge("pretrain", "export", "--checkpoint", str(tmp_path / "run" / "checkpoints"),
                                   "--output", str(tmp_path / "hf"), "--tokenizer", str(other_tokenizer)))
    assert "is not the one the checkpoint was trained with" in msg and str(other_tokenizer) in msg
    assert not (tmp_path / "hf").exists()
    proc = starforge("pretrain", "export", "--checkpoint", str(tmp_path / "run" / "checkpoints"),
                     "--output", str(tmp_path / "hf"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "hf" / "export_report.json").read_text())
    assert report["tokenizer_fingerprint"] == fingerprint_of(corpus["tokenizer"])


def test_resume_with_a_retrained_tokenizer_is_refused(corpus, other_tokenizer, tmp_path):
    from pretrain.config import load_train_config
    from pretrain.train import train
    from starforge.errors import PretrainError

    cfg = run_config(tmp_path, corpus["tokenizer"], [corpus["shards"]], train_steps=1)
    train(load_train_config(cfg))
    moved = run_config(tmp_path, other_tokenizer, [corpus["shards"]], train_steps=2)
    with pytest.raises(PretrainError, match=r"iter_0000001: the checkpoint was trained with tokenizer sha256 "):
        train(load_train_config(moved), resume=True)
