"""The `starforge` console script: stage dispatch and one-line user errors."""

import subprocess
import sys

from starforge.cli import STAGES, main


def test_help_lists_every_stage(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for stage in ("data", "pii", "pretrain", "finetune", "eval", "attribution", "demo"):
        assert stage in out
    assert set(STAGES) >= {"data", "pii", "pretrain", "finetune", "eval", "attribution", "demo"}


def test_unknown_stage_is_a_one_line_error(capsys):
    assert main(["pretrian"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown stage 'pretrian'" in err[0]


def test_console_script_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "starforge", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("starforge ")
