"""The real console script, as a user runs it, and the one-line error every bad input must give."""

from __future__ import annotations

import subprocess
import sys


def starforge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "starforge", *args], capture_output=True, text=True, timeout=600)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a run that exited 2 without a traceback."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return errors[0]
