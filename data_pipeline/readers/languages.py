"""Programming language of a file, from its extension or its whole name, by the table in
`languages.yaml` (data, not code: StarCoder's languages with linguist's extensions, plus a few
common ones that are named in stats but not selected by default)."""

from __future__ import annotations

from functools import cache
from pathlib import Path, PurePosixPath

import yaml

UNKNOWN = "unknown"
TABLE = Path(__file__).with_name("languages.yaml")


@cache
def _tables() -> tuple[dict[str, str], dict[str, str], tuple[str, ...]]:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    by_ext: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for section in ("starcoder", "other"):
        for lang, spec in data[section].items():
            for ext in spec.get("extensions", ()):
                by_ext[ext.lower()] = lang
            for name in spec.get("filenames", ()):
                by_name[name] = lang
    return by_ext, by_name, tuple(data["starcoder"])


def starcoder_languages() -> tuple[str, ...]:
    """The languages selected by default: StarCoder's, plus Jupyter notebooks."""
    return _tables()[2]


def known_languages() -> set[str]:
    by_ext, by_name, _ = _tables()
    return set(by_ext.values()) | set(by_name.values())


def language_of(path: str) -> str:
    """`"Python"` for `pkg/mod.py`; `"unknown"` when neither the name nor the extension is in the table."""
    by_ext, by_name, _ = _tables()
    name = PurePosixPath(path).name
    if name in by_name:
        return by_name[name]
    return by_ext.get(PurePosixPath(name).suffix.lower(), UNKNOWN)
