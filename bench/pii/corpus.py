"""The corpus: real files from the interpreter's roots, split into a planted and an untouched
set in a seed's hash order."""

from __future__ import annotations

import hashlib
import random
import sysconfig
from pathlib import Path

from bench.pii.planting import Sample, plant_file
from starforge.files import walk_files

EXTENSIONS = (".py", ".js", ".json", ".yaml", ".yml", ".cfg", ".md")


def source_pool() -> dict[str, Path]:
    """Candidate files by key: `stdlib/<path>` or `site-packages/<path>`, relative to the
    interpreter's roots, so a key names the same file on any machine with this interpreter."""
    paths = sysconfig.get_paths()
    roots = sorted({(Path(paths[k]), "stdlib" if k == "stdlib" else "site-packages")
                    for k in ("stdlib", "purelib", "platlib")})
    files: dict[str, Path] = {}
    for root, label in roots:
        for path in walk_files(root, skip_dirs=("__pycache__",), suffixes=EXTENSIONS):
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if 500 <= size <= 300_000:
                files.setdefault(f"{label}/{path.relative_to(root).as_posix()}", path)
    return files


def read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def build_sets(seed: int, labelled_mb: float, clean_mb: float) -> tuple[list[Sample], list[Sample], str]:
    """Files are taken in the order of sha256(seed:key) and sent to one set or the other by a
    bit of that hash: installing a package adds its files to the order without reshuffling the
    rest, so the untouched set (and its reviewed labels) stays put."""
    pool = source_pool()
    ranked = sorted((hashlib.sha256(f"{seed}:{key}".encode()).hexdigest(), key) for key in pool)
    labelled, clean, n_lab, n_clean = [], [], 0, 0
    fingerprint = hashlib.sha256()
    for digest, key in ranked:
        if n_lab >= labelled_mb * 1e6 and n_clean >= clean_mb * 1e6:
            break
        to_labelled = int(digest[-1], 16) % 2 == 0
        if (n_lab if to_labelled else n_clean) >= (labelled_mb if to_labelled else clean_mb) * 1e6:
            continue
        text = read(pool[key])
        if not text or "\0" in text:
            continue
        fingerprint.update(f"{key}:{len(text)}\n".encode())
        if to_labelled:
            labelled.append(plant_file(random.Random(f"{seed}:{key}"), pool[key], text, key))
            n_lab += len(labelled[-1].text)
        else:
            clean.append(Sample(pool[key], text, [], [], key))
            n_clean += len(text)
    return labelled, clean, fingerprint.hexdigest()[:16]
