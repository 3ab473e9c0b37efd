"""Reading source files for scanning: text or a reason it is not scanned.

A file is binary when its first 8 KB hold a NUL byte: git's `buffer_is_binary` rule (first
8000 bytes), which the data chain's `BinaryFilter` applies too. Every other file is text and
is scanned, whatever its encoding: bytes that are not UTF-8 (a Latin-1 comment, a cp1252
`.properties` file) decode to lone surrogates with Python's `surrogateescape` handler (PEP 383),
nothing guessed and nothing lost, and `encode_source` writes each of them back as the byte it
was. Too-large files are refused before reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from starforge import files

BINARY_PROBE_BYTES = 8192
SOURCE_ERRORS = "surrogateescape"
"""The codec error handler of every source read and written: lossless for any byte."""


def read_source(path: Path, max_bytes: int | None) -> tuple[str | None, str | None]:
    """(text, None) for UTF-8 text; (text, "non_utf8") for text holding bytes that are not
    UTF-8 (decoded with `surrogateescape`: write it with `encode_source`); (None, reason) for
    a file not scanned, reason one of `too_large`, `binary`, `unreadable`."""
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            return None, "too_large"
        data = path.read_bytes()
    except OSError:
        return None, "unreadable"
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("utf-8", SOURCE_ERRORS), "non_utf8"


def encode_source(text: str) -> bytes:
    """The bytes of a text `read_source` returned (redacted or not): each byte that was not
    UTF-8 comes back unchanged."""
    return text.encode("utf-8", SOURCE_ERRORS)


def walk_files(root: Path) -> Iterator[Path]:
    """Files under `root` (or `root` itself), sorted. Symlinked files are read through (and
    written as plain files by `redact`); symlinked folders are not entered (no loops)."""
    return files.walk_files(root, links="follow")
