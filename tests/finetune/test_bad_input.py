"""Bad input to `starforge finetune` through the real console script: exit status 2 and one line
on stderr naming the file (issue #18 section 5)."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.console import console_script as starforge
from tests.console import only_error_line as one_line_error


@pytest.fixture(scope="module")
def truncated_model(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("truncated") / "model"
    shutil.copytree(tiny_model, out)
    weights = out / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    return out


def test_sft_on_a_truncated_safetensors_names_the_file(truncated_model, problem_files, tmp_path):
    msg = one_line_error(starforge("finetune", "sft", "--model", str(truncated_model), "--data",
                                   str(problem_files["train"]), "--output", str(tmp_path / "o")))
    assert f"{truncated_model / 'model.safetensors'}: not a readable safetensors file" in msg


def test_rl_on_a_truncated_safetensors_names_the_file(truncated_model, problem_files, tmp_path):
    msg = one_line_error(starforge("finetune", "rl", "--model", str(truncated_model), "--problems",
                                   str(problem_files["train"]), "--output", str(tmp_path / "o")))
    assert f"{truncated_model / 'model.safetensors'}: not a readable safetensors file" in msg


def test_tapes_to_sft_with_a_missing_tape_fails_before_loading_benchmarks(tmp_path):
    """The input is checked first: no decontamination snippets are built (and nothing is looked
    up for `mbpp`, which has no local file) before the missing tape is reported."""
    msg = one_line_error(starforge("finetune", "tapes-to-sft", str(tmp_path / "nope.jsonl"),
                                   "--output", str(tmp_path / "s.jsonl")))
    assert "nope.jsonl" in msg and "tape" in msg and not (tmp_path / "s.jsonl").exists()


def test_binary_tape_names_file_and_line(tmp_path):
    tape = tmp_path / "t.jsonl"
    tape.write_bytes(Path(sys.executable).resolve().read_bytes()[:65536])
    msg = one_line_error(starforge("finetune", "tapes-to-sft", str(tape), "--output", str(tmp_path / "s.jsonl"),
                                   "--decontaminate", ""))
    assert f"{tape}:1: not a tape step" in msg


@pytest.mark.parametrize("line", [
    {"type": "prompt", "run_id": "r", "step": 0},                                      # no problem_id, text
    {"type": "completion", "run_id": "r", "step": 0, "problem_id": "p", "category": "c"},  # no sample
    {"type": "reward", "run_id": "r", "step": 0, "problem_id": "p", "sample": 0, "value": "high"},
])
def test_tape_step_without_its_fields_names_file_and_line(tmp_path, line):
    tape = tmp_path / "t.jsonl"
    tape.write_text(json.dumps(line) + "\n")
    msg = one_line_error(starforge("finetune", "tapes-to-sft", str(tape), "--output", str(tmp_path / "s.jsonl"),
                                   "--decontaminate", ""))
    assert f"{tape}:1: not a tape step" in msg


def test_unknown_device_is_one_line_error(tiny_model, problem_files, tmp_path):
    msg = one_line_error(starforge("finetune", "sft", "--model", str(tiny_model), "--data",
                                   str(problem_files["train"]), "--output", str(tmp_path / "o"),
                                   "--set", "device=tpu"))
    assert "device='tpu'" in msg
