"""What attribution indexes: the kept JSONL of `starforge data`, or a plain folder of repositories.

Each input becomes one or more shards (an iterable of `KeptFile`s, the kept view of
starforge/formats/records.py, with a name and a signature), so an index is built per data shard
and a new shard never rebuilds the others:

- kept output: `DIR/kept/*.jsonl.gz` (or `.jsonl`), or that kept folder itself; one shard per file.
- a plain folder: each immediate sub-folder is a repository (files at the top level belong to a
  repository named after the folder); `path` is relative to the repository, `id` to the
  folder; one shard for the whole folder. Licences come from the project's one detector
  (starforge/formats/licences.py: licence files at the repository root, then manifests), the
  same the data chain labels kept files with, else "unknown".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from attribution.config import SourceConfig
from starforge.errors import AttributionError
from starforge.files import walk_files
from starforge.formats.licences import licence_of_repository
from starforge.formats.records import SUFFIXES as KEPT_SUFFIXES
from starforge.formats.records import KeptFile, read_kept


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

    def files(self) -> Iterator[KeptFile]:
        return read_kept(self.source) if self.kind == "kept" else read_folder(self.source, self.cfg)


def find_shards(path: Path, cfg: SourceConfig) -> list[Shard]:
    """The shards under `path`, in a stable order."""
    path = Path(path)
    _utf8_name(path)
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
        for p in kept:
            _utf8_name(p)
        names = [_shard_name(p) for p in kept]
        if len(set(names)) != len(names):
            raise AttributionError(f"{kept_dir}: both NAME.jsonl and NAME.jsonl.gz present; keep one of each shard")
        return [Shard(name, p, "kept", cfg) for name, p in zip(names, kept)]
    if kept_dir is not path:
        raise AttributionError(f"{kept_dir}: no *.jsonl.gz or *.jsonl files; rerun `starforge data` to produce them")
    return [Shard("files", path, "folder", cfg)]


def read_folder(root: Path, cfg: SourceConfig) -> Iterator[KeptFile]:
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
        yield KeptFile(text=text, id=display_name(rel.as_posix()), repo=display_name(repo),
                       path=display_name(in_repo.as_posix()), licence=licences[repo], lang=path.suffix.lstrip("."))


def _utf8_name(path: Path) -> None:
    """Shard and input names go into the manifest, logs and task names as text: refuse one that
    is not UTF-8 in one line (file names inside a plain folder are escaped, display_name)."""
    if display_name(str(path)) != str(path):
        raise AttributionError(f"{display_name(str(path))}: the file name is not UTF-8; rename it "
                               "(e.g. with `convmv -f latin1 -t utf8`) and index again")


def display_name(name: str) -> str:
    """A file name as UTF-8 text: the bytes of a name that is not UTF-8 (Python holds them as
    lone surrogates, which no UTF-8 file or JSON reply can carry) become `\\xNN` escapes, so
    the file is still indexed and its name shown, e.g. `caf\\xe9.py` for Latin-1 `café.py`."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def _walk(root: Path, cfg: SourceConfig) -> Iterator[tuple[str, Path]]:
    """(repository, path) of the files a plain folder contributes: no hidden names, no links, the
    configured extensions and size cap."""
    exts = tuple(cfg.extensions) if cfg.extensions else None
    for path in walk_files(root, skip_dirs=cfg.exclude_dirs, skip_hidden=True, suffixes=exts, links="skip"):
        if path.stat().st_size > cfg.max_file_bytes:
            continue
        rel = path.relative_to(root).parts
        yield (rel[0] if len(rel) > 1 else root.name), path


def detect_licence(repo_dir: Path) -> str:
    """The repository's SPDX expression by starforge/formats/licences.py, or "unknown"."""
    return licence_of_repository(repo_dir).spdx


def _shard_name(path: Path) -> str:
    name = path.name
    for suffix in KEPT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
