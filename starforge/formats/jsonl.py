"""JSON lines, plain or gzip: the container of most hand-off files (docs/formats.md, "JSONL").

One JSON value per line, UTF-8; `.gz` files are gzip. Readers skip blank lines and say where a
file is wrong: a line that does not parse, or that `parse` rejects, is one `FormatError`

    PATH:LINE: not <what> (<reason>); <how>

and a file that cannot be read at all (missing, truncated gzip) is `PATH: unreadable (...); <how>`.
Each format module names its `what` and `how` (the command that writes the file).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson

from starforge.errors import FormatError

T = TypeVar("T")

PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError)
"""What a `parse` function raises on a value that is not its record (orjson's and json's decode
errors are ValueErrors)."""


def _identity(value: Any) -> Any:
    return value


def reason(exc: BaseException) -> str:
    """An exception as the part of a one-line error between parentheses."""
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def read_jsonl(path: str | Path, parse: Callable[[Any], T] = _identity, *, what: str = "a JSON value",
               how: str = "", loads: Callable[[bytes], Any] = orjson.loads) -> Iterator[T]:
    """`parse(value)` of every non-blank line of `path`, in order.

    `loads` is orjson's by default; pass `json.loads` for files written by `json.dumps`, which
    may hold `NaN` (orjson refuses it)."""
    path = Path(path)
    tail = f"; {how}" if how else ""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = parse(loads(line))
                except PARSE_ERRORS as exc:
                    raise FormatError(f"{path}:{lineno}: not {what} ({reason(exc)}){tail}") from None
                yield value
    except (OSError, EOFError, zlib.error) as exc:  # missing, truncated or corrupt gzip
        raise FormatError(f"{path}: unreadable ({reason(exc)}){tail}") from None


def write_jsonl(path: str | Path, rows: Iterable[Any], *, ensure_ascii: bool = True) -> int:
    """Write `rows` as JSON lines with the standard library's `json.dumps` (`.gz`: gzip without a
    timestamp, so equal rows give equal bytes). Creates the parent folder; returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if path.name.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            for row in rows:
                gz.write((json.dumps(row, ensure_ascii=ensure_ascii) + "\n").encode("utf-8"))
                count += 1
        return count
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=ensure_ascii) + "\n")
            count += 1
    return count
