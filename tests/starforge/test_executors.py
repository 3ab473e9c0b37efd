"""Slurm jobs built in one place (starforge/executors.py): every #SBATCH value is one line, for the
three commands that write jobs (data curate, attribution index, pretrain launch)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from starforge.cli import main
from starforge.errors import ConfigError
from starforge.executors import SlurmConfig, check_job_name, sbatch_lines

RUN = str(Path(__file__).resolve().parents[2] / "configs" / "runs" / "pretrain-starcoder-15.5b.yaml")
INJECTED = "bigcode\n#SBATCH --wrap=touch /tmp/owned"


def test_sbatch_lines_are_one_line_each():
    assert sbatch_lines({"account": "bigcode", "qos": None, "time": "1:00:00"}) == [
        "#SBATCH --account=bigcode", "#SBATCH --time=1:00:00"]
    for options in ({"account": INJECTED}, {"acc\nount": "x"}, {"time": "1:00\r"}):
        with pytest.raises(ConfigError, match="sbatch argument"):
            sbatch_lines(options)
    assert check_job_name("starforge_filter") == "starforge_filter"
    with pytest.raises(ConfigError, match="job-name"):
        check_job_name("a\nb")


def test_curate_dry_run_refuses_a_multi_line_sbatch_argument(tmp_path, capsys):
    from data_pipeline.config import CurateConfig
    from data_pipeline.curate import curate

    cfg = CurateConfig(input=str(tmp_path / "corpus"), output=tmp_path / "out", executor="slurm", dry_run=True,
                       slurm=SlurmConfig(sbatch_args={"account": INJECTED}))
    (tmp_path / "corpus" / "repo").mkdir(parents=True)
    (tmp_path / "corpus" / "repo" / "a.py").write_text("print(1)\n")
    with pytest.raises(ConfigError, match="must be one line"):
        curate(cfg)


def test_attribution_slurm_job_refuses_a_multi_line_partition(tmp_path, capsys):
    (tmp_path / "corpus" / "repo").mkdir(parents=True)
    (tmp_path / "corpus" / "repo" / "a.py").write_text("def f():\n    return 1\n" * 20)
    code = main(["attribution", "index", "--input", str(tmp_path / "corpus"), "--output", str(tmp_path / "idx"),
                 "--set", "build.executor=slurm", "--set", "build.dry_run=true",
                 "--set", f"build.slurm.partition={INJECTED!r}".replace("'", '"')])
    err = capsys.readouterr().err
    assert code == 2 and "must be one line" in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "idx").rglob("launch_script.slurm"))


def test_pretrain_launch_dry_run_is_a_valid_script_and_refuses_injection(tmp_path, capsys):
    assert main(["pretrain", "launch", "--config", RUN, "--slurm", "--nodes", "2", "--gpus-per-node", "8",
                 "--partition", "gpu", "--dry-run"]) == 0
    script = capsys.readouterr().out
    sbatch = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert sbatch[0] == "#SBATCH --job-name=starforge-pretrain" and "#SBATCH --partition=gpu" in sbatch
    assert len(sbatch) == 11  # the same lines as before, in the same order
    path = tmp_path / "job.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    for flag, value in (("--partition", INJECTED), ("--time", "1:00\n#SBATCH --x=y"), ("--job-name", "a b")):
        assert main(["pretrain", "launch", "--config", RUN, "--slurm", "--nodes", "2", "--dry-run", flag, value]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
