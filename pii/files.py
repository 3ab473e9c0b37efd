"""Reading source files for scanning: text or a reason it is not scanned.

A file is binary when its first 8 KB hold a NUL byte or it is not UTF-8 (StarCoder's corpus
is UTF-8 text; what is not is copied through by `redact`, never guessed at). Too-large files
are refused before reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from starforge import files


def read_source(path: Path, max_bytes: int | None) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) with reason one of `too_large`, `binary`, `undecodable`,
    `unreadable`."""
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            return None, "too_large"
        data = path.read_bytes()
    except OSError:
        return None, "unreadable"
    if b"\0" in data[:8192]:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "undecodable"


def walk_files(root: Path) -> Iterator[Path]:
    """Files under `root` (or `root` itself), sorted. Symlinked files are read through (and
    written as plain files by `redact`); symlinked folders are not entered (no loops)."""
    return files.walk_files(root, links="follow")
