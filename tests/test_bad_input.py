"""Bad input gives one line naming the thing and what to do, a non-zero exit, and leaves earlier
outputs intact (the spine's contract, checked through the real console script)."""

import subprocess
import sys
from pathlib import Path


def starforge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "starforge", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return errors[0]


def test_missing_input_path(tmp_path):
    msg = one_line_error(starforge("data", "curate", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o")))
    assert "nope" in msg


def test_empty_corpus(tmp_path):
    (tmp_path / "corpus" / "empty-repo").mkdir(parents=True)
    msg = one_line_error(starforge("data", "curate", "--input", str(tmp_path / "corpus"),
                                   "--output", str(tmp_path / "o")))
    assert "corpus" in msg


def test_unknown_config_key_names_it_and_suggests():
    msg = one_line_error(starforge("demo", "--set", "vocab_sise=10"))
    assert "unknown key 'vocab_sise'" in msg and "vocab_size" in msg


def test_corrupt_checkpoint_leaves_earlier_outputs_intact(tmp_path):
    ckpt = tmp_path / "checkpoints" / "iter_0000010"
    ckpt.mkdir(parents=True)
    (tmp_path / "checkpoints" / "latest").write_text("10")
    (ckpt / "run_config.yaml").write_text("this: [is not a config\n")
    out = tmp_path / "hf"
    out.mkdir()
    (out / "keep.txt").write_text("earlier output")
    msg = one_line_error(starforge("pretrain", "export", "--checkpoint", str(tmp_path / "checkpoints"),
                                   "--output", str(out)))
    assert "iter_0000010" in msg or "checkpoint" in msg
    assert (out / "keep.txt").read_text() == "earlier output"
