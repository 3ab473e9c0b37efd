"""Bad input to `starforge eval` through the real console script: exit status 2 and one line on
stderr naming the file (issue #18 section 5)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.console import console_script as starforge
from tests.console import only_error_line as one_line_error


def test_eval_on_a_truncated_safetensors_names_the_file(tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    weights = model / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    msg = one_line_error(starforge("eval", "--model", str(model), "--tasks", "humaneval", "--limit", "1",
                                   "--n_samples", "1", "--generation_only",
                                   "--save_generations_path", str(tmp_path / "g.json")))
    assert f"{weights}: not a readable safetensors file" in msg and "truncated" in msg


def test_hub_data_without_network_fails_in_one_line(tmp_path):
    """No local data and a hub that refuses connections: offline mode at once (the cache would
    still serve), not datasets' retries with a warning line each."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))  # port 9 (discard): refused
    script = Path(sys.executable).with_name("starforge")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "starforge"]
    for task in ("mbpp", "mbppplus"):
        proc = subprocess.run([*argv, "eval", "--tasks", task, "--save_problems", str(tmp_path / "p.jsonl")],
                              capture_output=True, text=True, timeout=600, env=env)
        assert "cannot load" in one_line_error(proc) and "--load_data_path" in proc.stderr
