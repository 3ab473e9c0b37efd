"""W&B logging, read back from the files an offline run writes: what W&B holds equals metrics.jsonl."""

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from pretrain.metrics import read_metrics
from pretrain.train import train

from .test_train import tiny, train_losses

pytest.importorskip("wandb", reason="wandb is in the dev extra; pip install -e '.[dev]'")

WANDB = ("wandb.project=starforge-tests", "wandb.mode=offline")


def wandb_records(run_file: Path) -> list[Any]:
    """The protobuf records of an offline run's `run-ID.wandb` file (what `wandb sync` uploads).

    wandb-core writes it in LevelDB's log format: a 7-byte header (":W&B", magic 0xBEE1, version 0),
    then 32 KiB blocks of chunks `crc32 u32 (zlib's, over kind + data), length u16, kind u8`
    (1 a whole record; 2, 3, 4 its first, middle, last piece); a block's last < 7 bytes are padding.
    wandb no longer ships a Python reader, so this is one."""
    from wandb.proto.wandb_internal_pb2 import Record

    data = run_file.read_bytes()
    assert data[:7] == struct.pack("<4sHB", b":W&B", 0xBEE1, 0), f"{run_file}: not a W&B run file"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:
            pos += 32768 - pos % 32768
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        chunk = data[pos + 7:pos + 7 + length]
        assert crc == zlib.crc32(chunk, zlib.crc32(bytes([kind]))), f"{run_file}@{pos}: bad checksum"
        pending, pos = pending + chunk, pos + 7 + length
        if kind in (1, 4):
            record = Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def of_type(records: list[Any], kind: str) -> list[Any]:
    return [getattr(r, kind) for r in records if r.WhichOneof("record_type") == kind]


def history(records: list[Any]) -> dict[int, dict[str, Any]]:
    """W&B step -> {key: value} of our metrics (W&B's own `_step`, `_runtime`... left out)."""
    rows: dict[int, dict[str, Any]] = {}
    for h in of_type(records, "history"):
        row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in h.item}
        rows.setdefault(h.step.num, {}).update({k: v for k, v in row.items() if not k.startswith("_")})
    return rows


def offline_runs(out: Path, run_id: str) -> list[Path]:
    """The run's `.wandb` files in OUT/wandb/, oldest first (a resumed run gets a new folder)."""
    return sorted((out / "wandb").glob(f"offline-run-*-{run_id}*/run-{run_id}.wandb"))


def test_wandb_run_holds_the_jsonl_metrics_and_the_config(corpus, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_DIR", raising=False)  # so the run's files go to OUT/wandb/
    out = tmp_path / "run"
    summary = train(tiny(corpus, out, "train_steps=4", "eval_interval=2", *WANDB))
    run_id = summary["wandb_run_id"]
    assert json.loads((out / "checkpoints" / "iter_0000004" / "meta.json").read_text())["wandb_run_id"] == run_id
    [run_file] = offline_runs(out, run_id)
    records = wandb_records(run_file)

    [run] = of_type(records, "run")
    config = {u.key: json.loads(u.value_json) for u in run.config.update}
    assert (config["train_steps"], config["model"]["hidden_size"], config["wandb"]["project"]) == (
        4, 64, "starforge-tests")
    assert run.display_name == "run"  # out_dir's name

    expected: dict[int, dict[str, Any]] = {}
    for r in read_metrics(out / "metrics.jsonl"):
        expected.setdefault(r["step"], {}).update(
            {f"{r['split']}/{k}": v for k, v in r.items() if k not in ("step", "split")})
    assert expected[2]["valid/loss"] and expected[4]["train/mfu"] > 0
    assert history(records) == expected  # every number, bit for bit, at our step
    assert [e.exit_code for e in of_type(records, "exit")] == [0]  # finished


def test_resume_continues_the_same_wandb_run(corpus, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_DIR", raising=False)
    out = tmp_path / "run"
    first = train(tiny(corpus, out, "train_steps=2", "eval_interval=null", *WANDB))
    second = train(tiny(corpus, out, "train_steps=4", "eval_interval=null", *WANDB), resume=True)
    assert second["start_step"] == 2 and second["wandb_run_id"] == first["wandb_run_id"]
    before, after = (history(wandb_records(f)) for f in offline_runs(out, first["wandb_run_id"]))
    losses = train_losses(out)
    assert {step: row["train/loss"] for step, row in before.items()} == {1: losses[1], 2: losses[2]}
    assert {step: row["train/loss"] for step, row in after.items()} == {3: losses[3], 4: losses[4]}


@pytest.mark.slow
def test_sigterm_finishes_the_wandb_run(corpus, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "run.yaml"
    config.write_text(f"tokenizer: {corpus['tokenizer']}\ndata: {{sources: [{{path: {corpus['shards']}}}]}}\n"
                      f"model: {{seq_length: 64, hidden_size: 64}}\nout_dir: {out}\ntrain_steps: 100000\n"
                      "log_interval: 1\neval_interval: null\ntensorboard: false\n"
                      "wandb: {project: starforge-tests, mode: offline}\n")
    env = {k: v for k, v in os.environ.items() if k != "WANDB_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "starforge", "pretrain", "train", "--config", str(config)],
                            env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "metrics.jsonl").is_file()
                                          and (out / "metrics.jsonl").read_text().count("\n") >= 3):
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    summary = json.loads(stdout)
    assert summary["stopped_by_sigterm"]
    [run_file] = offline_runs(out, summary["wandb_run_id"])
    records = wandb_records(run_file)
    assert max(history(records)) == summary["steps"]
    assert [e.exit_code for e in of_type(records, "exit")] == [0]
