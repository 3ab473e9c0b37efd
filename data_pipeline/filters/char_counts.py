"""Counting the characters of a class (letters, letters and digits) at memory speed.

ASCII characters are counted by `bytes.translate` on the UTF-8 bytes (deleting every byte outside
the class, multi-byte sequences included), the others by the class's regex on the non-ASCII runs
only: a file with one `©` no longer sends its whole text through the regex. On the kept files
of a site-packages run (419 MB, 3,120 of 32,292 files not ASCII) this is 2.4 s against 4.9 s for
the regex over every non-ASCII file, with the same counts.
"""

from __future__ import annotations

import re

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def ascii_outside(in_class) -> bytes:
    """The bytes `translate` deletes: every non-ASCII byte, and the ASCII ones outside the class."""
    return bytes(c for c in range(256) if c >= 128 or not in_class(chr(c)))


def count_chars(text: str, outside: bytes, runs: re.Pattern[str]) -> int:
    """Characters of `text` in the class: ASCII ones by translate, the rest by `runs` (a regex of
    runs of the class)."""
    ascii_count = len(text.encode("utf-8", "surrogatepass").translate(None, outside))
    if text.isascii():
        return ascii_count
    return ascii_count + sum(len(m) for run in _NON_ASCII.findall(text) for m in runs.findall(run))
