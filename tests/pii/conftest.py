"""Real code for the PII tests: stdlib modules nobody here wrote, with PII planted at known spans."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])

# Modules whose text holds no personal data or secrets (checked by hand): false-positive probes.
CLEAN_MODULES = ["ast.py", "typing.py", "string.py", "json/decoder.py", "json/encoder.py", "collections/__init__.py",
                 "dataclasses.py", "functools.py", "pathlib.py", "configparser.py", "urllib/parse.py",
                 "http/client.py", "ssl.py", "secrets.py", "getpass.py", "netrc.py", "ftplib.py"]


def stdlib_text(name: str) -> str:
    return (STDLIB / name).read_text(encoding="utf-8")


def plant(text: str, line_no: int, template: str, value: str) -> tuple[str, tuple[int, int]]:
    """Insert `template` (with `{}` for the value) as a new line before line `line_no` (1-based),
    indented like that line; return the new text and the value's span."""
    lines = text.splitlines(keepends=True)
    indent = lines[line_no - 1][: len(lines[line_no - 1]) - len(lines[line_no - 1].lstrip())]
    prefix = "".join(lines[: line_no - 1]) + indent
    new_line = template.format(value)
    start = len(prefix) + new_line.index(value)
    return prefix + new_line + "\n" + "".join(lines[line_no - 1:]), (start, start + len(value))


@pytest.fixture
def decoder_py() -> str:
    return stdlib_text("json/decoder.py")
