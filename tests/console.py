"""The real console script, as a user runs it, and the one-line error every bad input must give."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def starforge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "starforge", *args], capture_output=True, text=True, timeout=600)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a run that exited 2 without a traceback."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return errors[0]


def console_script(*args: str) -> subprocess.CompletedProcess:
    """The installed `starforge` script itself (or `-m starforge` without one), the hub offline."""
    script = Path(sys.executable).with_name("starforge")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "starforge"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def only_error_line(proc: subprocess.CompletedProcess) -> str:
    """Stricter than `one_line_error`: exit 2 and stderr is that one `error:` line, nothing else."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]
