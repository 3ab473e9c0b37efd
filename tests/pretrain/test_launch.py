"""Slurm launch scripts: the 64-node StarCoder-15.5B layout, and layouts that cannot work."""

from pathlib import Path

import pytest

from pretrain.cli import main
from pretrain.config import load_train_config
from pretrain.launch.slurm import sbatch_script
from starforge.errors import PretrainError

RUN = str(Path(__file__).resolve().parents[2] / "configs" / "runs" / "pretrain-starcoder-15.5b.yaml")


def test_64_node_starcoder_script_runs_torchrun_per_node_with_one_rendezvous(capsys):
    assert main(["launch", "--config", RUN, "--slurm", "--nodes", "64", "--gpus-per-node", "8", "--dry-run"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/bash\n")
    for line in ("#SBATCH --nodes=64", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=8",
                 "#SBATCH --signal=TERM@120", "--nnodes=64", "--nproc-per-node=8", "--rdzv-backend=c10d",
                 '--rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT"', '--rdzv-id="$SLURM_JOB_ID"',
                 "-m starforge pretrain train --config", "$RESUME"):
        assert line in script, line
    assert "world 512 = tensor_parallel 8 x pipeline_parallel 1 x data_parallel 64" in script
    assert "global batch 512 sequences of 8192" in script
    assert "40 layers, hidden 6144, 48 heads, 1 kv group(s), 15,517,456,384 parameters" in script


def test_overrides_are_passed_through_quoted():
    cfg = load_train_config(RUN, ["optim.lr=1e-4"])
    script = sbatch_script(cfg, RUN, ["optim.lr=1e-4"], nodes=64, gpus_per_node=8)
    assert "--set optim.lr=1e-4" in script


def test_heads_not_divisible_by_tensor_parallel_fails_before_writing(tmp_path):
    cfg = load_train_config(RUN, ["parallel.tensor_parallel=5", f"out_dir={tmp_path}"])
    with pytest.raises(PretrainError, match="num_attention_heads=48 is not divisible by parallel.tensor_parallel=5"):
        sbatch_script(cfg, RUN, [], nodes=64, gpus_per_node=8)
    assert not any(tmp_path.iterdir())


def test_world_that_does_not_factor_is_refused():
    cfg = load_train_config(RUN, ["parallel.tensor_parallel=16"])
    with pytest.raises(PretrainError, match="exceeds --gpus-per-node 8"):
        sbatch_script(cfg, RUN, [], nodes=64, gpus_per_node=8)
    cfg = load_train_config(RUN, ["parallel.tensor_parallel=8"])
    with pytest.raises(PretrainError, match="world size 12 does not factor"):
        sbatch_script(cfg, RUN, [], nodes=3, gpus_per_node=4)


def test_launch_writes_the_script_without_submitting(tmp_path):
    assert main(["launch", "--config", RUN, "--slurm", "--nodes", "2", "--gpus-per-node", "8",
                 "--set", f"out_dir={tmp_path}", "--set", "grad_accum=1"]) == 0
    assert "--nnodes=2" in (tmp_path / "launch.sbatch").read_text()
