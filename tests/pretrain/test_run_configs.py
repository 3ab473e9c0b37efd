"""Every pretrain run preset loads; the demo preset trains with loss going down; SIGTERM checkpoints."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pretrain.config import load_train_config
from pretrain.train import train

RUNS = sorted((Path(__file__).resolve().parents[2] / "configs" / "runs").glob("pretrain*.yaml"))


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_every_pretrain_run_preset_loads(path):
    cfg = load_train_config(path)
    assert cfg.preset and cfg.model.num_query_groups == 1 and cfg.fim is not None and cfg.fim.rate == 0.5


def test_preset_keys_under_model_override_the_preset():
    cfg = load_train_config(None, ["preset=starcoderbase-1b", "model.seq_length=2048"])
    assert (cfg.model.num_layers, cfg.model.hidden_size, cfg.model.seq_length) == (24, 2048, 2048)


@pytest.mark.slow
def test_demo_preset_loss_goes_down(corpus, tmp_path):
    demo = next(p for p in RUNS if p.stem == "pretrain-tiny")
    cfg = load_train_config(demo, [f"tokenizer={corpus['tokenizer']}", f"data.sources=[{{path: {corpus['shards']}}}]",
                                   f"out_dir={tmp_path}", "train_steps=60", "eval_interval=30", "save_interval=null"])
    summary = train(cfg)
    assert summary["final_loss"] < summary["first_loss"] - 1.0
    assert Path(summary["loss_png"]).is_file() and Path(summary["checkpoint"]).name == "iter_0000060"


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_stops(corpus, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"tokenizer: {corpus['tokenizer']}\ndata: {{sources: [{{path: {corpus['shards']}}}]}}\n"
                      f"model: {{seq_length: 64, hidden_size: 64}}\nout_dir: {tmp_path / 'out'}\n"
                      "train_steps: 100000\nlog_interval: 1\neval_interval: null\ntensorboard: false\n")
    proc = subprocess.Popen([sys.executable, "-m", "starforge", "pretrain", "train", "--config", str(config)],
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    metrics = tmp_path / "out" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.is_file() and metrics.read_text().count("\n") >= 3):
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary = json.loads(out)
    assert summary["stopped_by_sigterm"] and 3 <= summary["steps"] < 100000
    latest = int((tmp_path / "out" / "checkpoints" / "latest").read_text())
    assert latest == summary["steps"]
