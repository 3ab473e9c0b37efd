"""The one folder walker: which files lie under a folder, in a stable order.

Every stage that reads a tree of source files lists it here (the data chain's repository
readers, `pii scan/redact`, `attribution index` on a plain folder, `bench/pii.py`); each keeps
its own filters through the parameters:

- order: `os.walk` top-down, folders and file names sorted, so a listing is the same on every
  machine and every run (the data chain splits it into task slices);
- folders named in `skip_dirs`, and with `skip_hidden` every name starting with ".", are not
  entered (nor listed);
- a link to a folder is never entered (it could loop or leave the root), and a link whose
  target lies outside the root is never read through (a link to /etc/passwd in a repository is
  not the repository's text: issue 18); `leaves_root` tells. What happens to links is `links`:
  - "follow": regular files, and links that lead to one inside the root (read through); links to
    folders, links leaving the root, dangling links and special files (FIFOs, sockets) are left
    out (`pii`);
  - "skip": regular files only, links left out (`attribution`);
  - "list": every entry that is not a folder entered: regular files, links of every kind and
    special files, so the reader reports what it cannot read instead of it vanishing (the data
    chain: such files end in `removed/` as `unreadable`).
- `suffixes` keeps only names ending in one of them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Literal

Links = Literal["follow", "skip", "list"]


def walk_files(root: str | Path, *, skip_dirs: Collection[str] = (), skip_hidden: bool = False,
               suffixes: tuple[str, ...] | None = None, links: Links = "follow") -> Iterator[Path]:
    """The files under `root` (`root / relative path`), or `root` itself when it is a file."""
    if links not in ("follow", "skip", "list"):
        raise ValueError(f"links={links!r}: choose follow, skip or list")
    root = Path(root)
    if root.is_file():
        yield root
        return
    skip = frozenset(skip_dirs)

    def wanted(name: str) -> bool:
        return not (skip_hidden and name.startswith(".")) and (suffixes is None or name.endswith(suffixes))

    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dir_links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in skip and d not in dir_links
                             and not (skip_hidden and d.startswith(".")))
        names = filenames + dir_links if links == "list" else filenames
        for name in sorted(names):
            if not wanted(name):
                continue
            path = here / name
            if links != "list" and not _keep(path, links, real_root):
                continue
            yield path


def leaves_root(path: str | Path, root: str | Path) -> bool:
    """True when `path` is a link whose target (followed to the end) is outside `root`: reading it
    would read a file that is not part of the tree. A dangling link is judged by where it points."""
    path = Path(path)
    if not path.is_symlink():
        return False
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # a loop of links: unreadable, not outside
        return False
    return not target.is_relative_to(Path(root).resolve())


def _keep(path: Path, links: Links, real_root: Path) -> bool:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            if links == "skip" or leaves_root(path, real_root):
                return False
            st = path.stat()
    except OSError:  # a dangling link, or a file gone since the listing
        return False
    return stat.S_ISREG(st.st_mode)
