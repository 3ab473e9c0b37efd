"""What attribution indexes: the kept JSONL of `starforge data`, or a plain folder of repositories.

Each input becomes one or more shards (an iterable of `SourceFile`s with a name and a
signature), so an index is built per data shard and a new shard never rebuilds the others:

- kept output: `DIR/kept/*.jsonl.gz` (or `.jsonl`), or that kept folder itself; one shard per file.
- a plain folder: each immediate sub-folder is a repository (files at the top level belong to a
  repository named after the folder); `path` is relative to the repository, `id` to the
  folder; one shard for the whole folder. Licences come from a
  LICENSE/COPYING file at the repository root, recognised by a few phrases, else "unknown".
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from attribution.config import SourceConfig
from starforge.errors import AttributionError, FormatError

KEPT_SUFFIXES = (".jsonl.gz", ".jsonl")
LICENCE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING", "COPYING.txt", "LICENSE.rst")
# First phrase found wins; order matters (LGPL before GPL, the PSF text quotes no other licence).
LICENCE_PHRASES = (
    ("GNU LESSER GENERAL PUBLIC LICENSE", "LGPL"),
    ("GNU AFFERO GENERAL PUBLIC LICENSE", "AGPL-3.0"),
    ("GNU GENERAL PUBLIC LICENSE", "GPL"),
    ("Apache License", "Apache-2.0"),
    ("Mozilla Public License", "MPL-2.0"),
    ("PYTHON SOFTWARE FOUNDATION LICENSE", "PSF-2.0"),
    ("Permission is hereby granted, free of charge", "MIT"),
    ("Redistribution and use in source and binary forms", "BSD"),
    ("This is free and unencumbered software released into the public domain", "Unlicense"),
)


@dataclass
class SourceFile:
    text: str
    id: str
    repo: str
    path: str
    licence: str
    lang: str = ""

    def metadata(self) -> dict[str, str]:
        return {"id": self.id, "repo": self.repo, "path": self.path, "licence": self.licence, "lang": self.lang}


@dataclass
class Shard:
    name: str
    source: Path
    kind: str  # "kept" or "folder"
    cfg: SourceConfig

    def signature(self) -> dict[str, int | str]:
        """Changes when the shard's input changes, so a rebuild is due."""
        if self.kind == "kept":
            st = self.source.stat()
            return {"source": str(self.source), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        files = list(_walk(self.source, self.cfg))
        return {"source": str(self.source), "files": len(files),
                "size": sum(p.stat().st_size for _, p in files),
                "mtime_ns": max((p.stat().st_mtime_ns for _, p in files), default=0)}

    def files(self) -> Iterator[SourceFile]:
        return read_kept(self.source) if self.kind == "kept" else read_folder(self.source, self.cfg)


def find_shards(path: Path, cfg: SourceConfig) -> list[Shard]:
    """The shards under `path`, in a stable order."""
    path = Path(path)
    if not path.exists():
        raise AttributionError(f"{path}: input not found; pass the output folder of `starforge data` "
                               "(with kept/) or a folder of source repositories")
    if path.is_file():
        if path.name.endswith(KEPT_SUFFIXES):
            return [Shard(_shard_name(path), path, "kept", cfg)]
        raise AttributionError(f"{path}: expected a folder or a kept .jsonl(.gz) file")
    kept_dir = path / "kept" if (path / "kept").is_dir() else path
    kept = sorted(p for p in kept_dir.iterdir() if p.is_file() and p.name.endswith(KEPT_SUFFIXES))
    if kept:
        names = [_shard_name(p) for p in kept]
        if len(set(names)) != len(names):
            raise AttributionError(f"{kept_dir}: both NAME.jsonl and NAME.jsonl.gz present; keep one of each shard")
        return [Shard(name, p, "kept", cfg) for name, p in zip(names, kept)]
    if kept_dir is not path:
        raise AttributionError(f"{kept_dir}: no *.jsonl.gz or *.jsonl files; rerun `starforge data` to produce them")
    return [Shard("files", path, "folder", cfg)]


def read_kept(path: Path) -> Iterator[SourceFile]:
    """Kept-file records; a record that is not one stops the build at FILE:LINE."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield _kept_record(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    raise FormatError(f"{path}:{lineno}: not a kept-file record ({_reason(exc)}); "
                                      "regenerate it with `starforge data`") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: unreadable kept file ({exc}); regenerate it with `starforge data`") from None


def _kept_record(obj: object) -> SourceFile:
    if not isinstance(obj, dict):
        raise TypeError("expected a JSON object")
    meta = obj["metadata"]
    if not isinstance(meta, dict):
        raise TypeError("'metadata' must be an object")
    values = {"text": obj["text"], "id": obj["id"], "repo": meta["repo"], "path": meta["path"],
              "licence": meta["licence"]}
    for key, value in values.items():
        if not isinstance(value, str):
            raise TypeError(f"'{key}' must be a string, got {type(value).__name__}")
    return SourceFile(**values, lang=str(meta.get("lang", "")))


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


def read_folder(root: Path, cfg: SourceConfig) -> Iterator[SourceFile]:
    """UTF-8 text files of a folder of repositories; binary and non-UTF-8 files are skipped."""
    licences: dict[str, str] = {}
    for repo, path in _walk(root, cfg):
        if repo not in licences:
            licences[repo] = detect_licence(root / repo if repo != root.name else root)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(root)
        in_repo = rel.relative_to(repo) if len(rel.parts) > 1 else rel
        yield SourceFile(text=text, id=rel.as_posix(), repo=repo, path=in_repo.as_posix(),
                         licence=licences[repo], lang=path.suffix.lstrip("."))


def _walk(root: Path, cfg: SourceConfig) -> Iterator[tuple[str, Path]]:
    exts = tuple(cfg.extensions) if cfg.extensions else None
    skip = set(cfg.exclude_dirs)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
        here = Path(dirpath)
        rel = here.relative_to(root)
        repo = rel.parts[0] if rel.parts else root.name
        for name in sorted(filenames):
            if name.startswith(".") or (exts and not name.endswith(exts)):
                continue
            path = here / name
            if not path.is_file() or path.is_symlink():
                continue
            if path.stat().st_size > cfg.max_file_bytes:
                continue
            yield repo, path


def detect_licence(repo_dir: Path) -> str:
    """A licence name from the repository's LICENSE file, or "unknown"."""
    for name in LICENCE_FILES:
        path = repo_dir / name
        if path.is_file():
            head = path.read_text(encoding="utf-8", errors="replace")[:4000]
            for phrase, licence in LICENCE_PHRASES:
                if phrase.lower() in head.lower():
                    return licence
            return "unknown"
    return "unknown"


def _shard_name(path: Path) -> str:
    name = path.name
    for suffix in KEPT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
