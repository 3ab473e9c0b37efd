"""Which files make up a corpus: a folder of repositories, a YAML list of checked-out repositories,
a git repository or a `.txt` list of them, or the embedded `builtin:stdlib` corpus.

A git repository (a folder with `.git`, given itself, listed in a `.txt`/`.yaml` list, or as a
sub-folder of a folder of repositories) contributes what `git ls-files` lists (the tracked tree of
HEAD as checked out, not build outputs or ignored files), named `owner/name` after its `origin`
remote when it has one, with the commit of HEAD recorded on every file (`metadata.commit`).
Licences come from `starforge/formats/licences.py` (the project's one detector).

Listing is separate from reading so every task of a datatrove pipeline lists the same sorted files
and takes its own contiguous slice (see `RepositoryReader`). VCS folders and `__pycache__` are not
part of a repository's content and are never listed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from starforge.errors import DataError
from starforge.files import leaves_root, walk_files
from starforge.formats.licences import DEFAULT_THRESHOLD, Licence, is_permissive, licence_from_metadata
from starforge.formats.licences import licence_of_repository as _licence_of_repository

log = logging.getLogger(__name__)

BUILTIN_STDLIB = "builtin:stdlib"
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__"})


@dataclass(frozen=True, order=True)
class SourceFile:
    """One input file: `id` is unique in the corpus and orders it (dedup keeps the smallest id)."""

    id: str
    abs_path: str
    repo: str
    path: str
    licence: str
    stars: int = 0
    """The repository's stars, when a repository list gives them (near dedup keeps the most starred copy)."""
    updated: str = ""
    """The repository's last update (ISO 8601), when given: near dedup's second tie-break, newest first."""
    licence_source: str = ""
    """Where `licence` came from (`licence_file:LICENSE`, `manifest:package.json`, `listed`, ...)."""
    commit: str = ""
    """HEAD's commit, for files of a git repository."""
    link_outside: bool = False
    """A link whose target is outside its repository: never read, removed as `link_outside_repository`."""


_THRESHOLD = DEFAULT_THRESHOLD  # set per run by list_sources (CurateConfig.licence_threshold)


def list_sources(source: str, include_site_packages: bool = False,
                 site_packages: list[str] | None = None, licence_threshold: float = DEFAULT_THRESHOLD
                 ) -> list[SourceFile]:
    """All files of `source` (a folder of repositories, a git repository, a list, or
    `builtin:stdlib`), sorted by id."""
    global _THRESHOLD
    _THRESHOLD = licence_threshold
    if source == BUILTIN_STDLIB:
        files = list_stdlib()
        if include_site_packages:
            files += list_site_packages(site_packages)
    elif source.startswith("builtin:"):
        raise DataError(f"input '{source}': unknown built-in corpus; the only one is '{BUILTIN_STDLIB}'")
    elif is_repository_list(source):
        files = list_repository_list(Path(source))
    elif source.endswith(".txt") and Path(source).is_file():
        files = list_git_list(Path(source))
    elif is_git_repository(Path(source)):
        files = list_git_repository(Path(source))
    else:
        files = list_repository_folder(Path(source))
    files.sort()
    return files


def licence_of_repository(root: Path) -> Licence:
    return _licence_of_repository(root, _THRESHOLD)


def is_git_repository(root: Path) -> bool:
    return (root / ".git").exists() and root.is_dir()


def list_git_list(list_file: Path) -> list[SourceFile]:
    """A `.txt` file naming git repositories (or plain folders), one path per line; `#` starts a comment."""
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{list_file}: cannot read the repository list ({exc})") from None
    entries = []
    for i, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            entries.append({"path": line, "_line": i})
    if not entries:
        raise DataError(f"{list_file}: no repositories listed; write one repository path per line")
    return _list_entries(entries, list_file)


def list_git_repository(root: Path, name: str | None = None, licence: str | None = None,
                        stars: int = 0, updated: str = "") -> list[SourceFile]:
    """The files `git ls-files` lists in `root`, as repository `name` (default: owner/name of its
    origin remote, else the folder's name), with HEAD's commit."""
    root = root.resolve()
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
                                capture_output=True).stdout.decode().strip()
    except FileNotFoundError:
        raise DataError(f"input '{root}': a git repository, but the `git` program is not installed") from None
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["git ls-files failed"]
        raise DataError(f"input '{root}': cannot list the git repository ({message[0]})") from None
    name = _printable(name or _origin_name(root) or root.name)
    if licence:
        found = Licence(licence, "listed")
    else:
        found = licence_of_repository(root)
    files = []
    for raw in sorted(r for r in listed.split(b"\0") if r):
        rel = os.fsdecode(raw)
        abs_path = root / rel
        path = f"{name}/{_printable(rel)}"
        files.append(SourceFile(path, str(abs_path), name, _printable(rel), found.spdx, stars, updated,
                                found.source, commit, leaves_root(abs_path, root)))
    return files


def _origin_name(root: Path) -> str | None:
    """`owner/name` from the origin remote's URL (https://host/owner/name.git, git@host:owner/name)."""
    url = subprocess.run(["git", "-C", str(root), "config", "--get", "remote.origin.url"],
                         capture_output=True).stdout.decode("utf-8", "replace").strip()
    m = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
    return f"{m.group(1)}/{m.group(2)}" if m else None


def list_repository_folder(root: Path) -> list[SourceFile]:
    """One repository per immediate sub-folder of `root`; files directly in `root` form a repository
    named after `root` itself. `path` is relative to `root` (`repo/sub/file.py`), and is the id."""
    if not root.exists():
        raise DataError(f"input '{root}': no such folder; pass a folder of repositories or '{BUILTIN_STDLIB}'")
    if not root.is_dir():
        raise DataError(f"input '{root}': not a folder; pass a folder with one repository per sub-folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise DataError(f"input '{root}': folder not readable; check its permissions")
    files: list[SourceFile] = []
    top = licence_of_repository(root)
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            if entry.name in SKIP_DIRS:
                continue
            repo = _printable(entry.name)
            if is_git_repository(Path(entry.path)):
                files += list_git_repository(Path(entry.path), name=repo)
                continue
            found = licence_of_repository(Path(entry.path))
            for abs_path, rel, outside in _walk(Path(entry.path)):
                path = f"{repo}/{_printable(rel)}"
                files.append(SourceFile(path, abs_path, repo, path, found.spdx, licence_source=found.source,
                                        link_outside=outside))
        else:
            name = _printable(entry.name)
            files.append(SourceFile(name, entry.path, _printable(root.resolve().name) or "root", name, top.spdx,
                                    licence_source=top.source, link_outside=leaves_root(entry.path, root)))
    return files


def is_repository_list(source: str) -> bool:
    return source.endswith((".yaml", ".yml")) and Path(source).is_file()


def _list_entries(entries: list, list_file: Path) -> list[SourceFile]:
    files: list[SourceFile] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        entry = {"path": entry} if isinstance(entry, str) else entry
        line = entry.get("_line", i) if isinstance(entry, dict) else i
        if not isinstance(entry, dict) or "path" not in entry:
            raise DataError(f"{list_file}: entry {i} has no `path`; write `- path: /checkout/of/repo`")
        root = (list_file.parent / str(entry["path"])).resolve()
        if not root.is_dir():
            raise DataError(f"{list_file}: entry {line}: '{root}' is not a folder; give a checked-out repository")
        listed = entry.get("licence") or entry.get("license")
        stars, updated = int(entry.get("stars") or 0), str(entry.get("updated") or "")
        if is_git_repository(root):
            repo_files = list_git_repository(root, entry.get("name"), str(listed) if listed else None, stars, updated)
            name = repo_files[0].repo if repo_files else _printable(str(entry.get("name") or root.name))
        else:
            name = _printable(str(entry.get("name") or root.name))
            found = Licence(str(listed), "listed") if listed else licence_of_repository(root)
            repo_files = [SourceFile(f"{name}/{_printable(rel)}", abs_path, name, f"{name}/{_printable(rel)}",
                                     found.spdx, stars, updated, found.source, link_outside=outside)
                          for abs_path, rel, outside in _walk(root)]
        if name in seen:
            raise DataError(f"{list_file}: entry {line}: repository name '{name}' appears twice; give each a `name`")
        seen.add(name)
        files += repo_files
    return files


def list_repository_list(list_file: Path) -> list[SourceFile]:
    """The checked-out trees named by a YAML list, one entry per repository:

        - path: /src/checkouts/requests      # a git checkout (its .git is skipped)
          name: psf/requests                 # default: the folder's name
          stars: 51200                       # optional: near dedup keeps the most starred copy
          updated: "2024-05-01T12:00:00Z"    # optional: then the newest
          licence: Apache-2.0                # optional: default from its licence files, then manifests
        - /src/checkouts/flask                # a bare path is {path: ...}

    Relative paths are relative to the list file. Ids and paths are `name/relative/path` (a git
    repository's paths are repository-relative, its name `owner/name` from its origin remote)."""
    import yaml

    try:
        entries = yaml.safe_load(list_file.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise DataError(f"{list_file}: not a valid YAML repository list ({exc})") from None
    if not isinstance(entries, list):
        raise DataError(f"{list_file}: expected a YAML list of repositories (`- path: ...`)")
    return _list_entries(entries, list_file)


def list_stdlib(stdlib_dir: Path | None = None) -> list[SourceFile]:
    """The running interpreter's standard library, read as the repositories of CPython's `Lib/`:
    each top-level package or folder is `cpython/<name>`, top-level modules are `cpython/Lib`.
    Ids are CPython source-tree paths (`cpython/Lib/json/decoder.py`); licence PSF-2.0."""
    root = Path(stdlib_dir or sysconfig.get_paths()["stdlib"])
    if not root.is_dir():
        raise DataError(f"standard library folder '{root}' not found; pass --input with a folder of repositories")
    files = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name in SKIP_DIRS or entry.name in ("site-packages", "dist-packages"):
            continue
        name = _printable(entry.name)
        if entry.is_dir(follow_symlinks=False):
            for abs_path, rel, _ in _walk(Path(entry.path)):
                path = f"{name}/{_printable(rel)}"
                files.append(SourceFile(f"cpython/Lib/{path}", abs_path, f"cpython/{name}", path, "PSF-2.0",
                                        licence_source="builtin"))
        else:
            files.append(SourceFile(f"cpython/Lib/{name}", entry.path, "cpython/Lib", name, "PSF-2.0",
                                    licence_source="builtin"))
    return files


def list_site_packages(only: list[str] | None = None) -> list[SourceFile]:
    """Installed distributions (the interpreter's purelib) whose metadata licence is permissive, one
    repository `pypi/<name>` each; `only` restricts to those names. Files come from each RECORD,
    without `__pycache__`, the `.dist-info` folder and files outside site-packages (scripts)."""
    root = Path(sysconfig.get_paths()["purelib"]).resolve()
    wanted = {_norm(n) for n in only} if only else None
    seen: set[str] = set()
    files: list[SourceFile] = []
    skipped: list[str] = []
    for dist in sorted(importlib.metadata.distributions(path=[str(root)]), key=lambda d: d.metadata["Name"] or ""):
        name = dist.metadata["Name"] or ""
        key = _norm(name)
        if not name or key in seen or (wanted is not None and key not in wanted):
            continue
        seen.add(key)
        licence = licence_from_metadata(dist.metadata)
        if not is_permissive(licence):
            skipped.append(f"{name} ({licence})")
            continue
        for rel in dist.files or ():
            parts = rel.parts
            if parts[0] == ".." or "__pycache__" in parts or parts[0].endswith(".dist-info"):
                continue
            path = "/".join(parts)
            shown = _printable(path)
            files.append(SourceFile(f"site-packages/{shown}", str(root / path), f"pypi/{name}", shown, licence,
                                    licence_source="manifest:METADATA"))
    if skipped:
        log.info("site-packages: %d distributions without a permissive licence left out: %s",
                 len(skipped), ", ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    return files


def save_listing(files: list[SourceFile], path: Path) -> None:
    """Write a listing once, so every task (and a resumed run) reads the same files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for source_file in files:
            f.write(json.dumps(dataclasses.asdict(source_file)) + "\n")  # ASCII: keeps undecodable names
    tmp.replace(path)


def listing_fingerprint(files: list[SourceFile]) -> dict[str, str]:
    """id -> a short hash of what the file is now (its listing entry, size and mtime): a re-run of
    `curate` compares it with the saved one, so a corpus that changed is noticed (issue 18)."""
    out = {}
    for f in files:
        try:
            st = os.lstat(f.abs_path)
            state = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            state = "missing"
        entry = json.dumps(dataclasses.asdict(f), sort_keys=True) + state
        out[f.id] = hashlib.blake2b(entry.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return out


def input_changes(saved: dict[str, str], now: dict[str, str]) -> str | None:
    """None when the fingerprints agree, else a summary such as `1 added (r/new.py)`."""
    added = sorted(set(now) - set(saved))
    removed = sorted(set(saved) - set(now))
    changed = sorted(k for k in set(now) & set(saved) if now[k] != saved[k])
    if not (added or removed or changed):
        return None
    parts = [f"{len(names)} {what} ({names[0]}{', ...' if len(names) > 1 else ''})"
             for what, names in (("added", added), ("removed", removed), ("changed", changed)) if names]
    return ", ".join(parts)


def load_listing(path: Path) -> list[SourceFile]:
    with Path(path).open(encoding="utf-8") as f:
        return [SourceFile(**json.loads(line)) for line in f]


def _walk(top: Path) -> list[tuple[str, str, bool]]:
    """(absolute path, path relative to `top` with '/', leaves the repository) of every
    non-directory under `top`, sorted. Symlinked folders are listed as entries but not followed
    (they could loop or leave the repository): the reader reports them as unreadable rather than
    dropping them silently, and a link leaving `top` is never read."""
    real_top = top.resolve()
    return [(str(path), path.relative_to(top).as_posix(), leaves_root(path, real_top))
            for path in walk_files(top, skip_dirs=SKIP_DIRS, links="list")]


def _printable(name: str) -> str:
    """A file name as valid Unicode for ids and records: bytes that are not UTF-8 (which Python
    carries as surrogates) become `\\xff` escapes. The absolute path keeps the real bytes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
