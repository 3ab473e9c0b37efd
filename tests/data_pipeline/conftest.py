"""A small corpus of real files (copied from this interpreter's standard library) and hostile ones."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])

MIT_TEXT = """MIT License

Copyright (c) 2024 Example

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction...

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
"""

APACHE_TEXT = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/
"""

FIM_SOURCE = '''"""Builds fill-in-the-middle samples."""

FIM_PREFIX = "<fim_prefix>"
EOD = "<|endoftext|>"


def psm(prefix, middle, suffix):
    return f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>{middle}" + EOD
'''

# input path -> expected outcome: "kept" or the removal reason
EXPECTED = {
    "README.md": "kept",
    "alpha/LICENSE": "kept",
    "alpha/textwrap.py": "kept",
    "alpha/pkg/__init__.py": "empty",
    "alpha/pkg/decoder.py": "kept",
    "alpha/pkg/blank.py": "empty",
    "alpha/latin1.py": "invalid_utf8",
    "alpha/idle_16.png": "binary",
    "alpha/big.txt": "too_large",
    "alpha/broken_link.py": "unreadable",
    "alpha/fim.py": "kept",
    "beta/LICENSE": "kept",
    "beta/textwrap.py": "exact_duplicate",
    "beta/json/decoder.py": "exact_duplicate",
    "beta/json/__init__.py": "kept",
}


def make_corpus(root: Path, big_bytes: int = 2_000_000) -> Path:
    """Two repositories and a top-level file; see EXPECTED."""
    alpha, beta = root / "alpha", root / "beta"
    for d in (alpha / "pkg", beta / "json", alpha / "__pycache__"):
        d.mkdir(parents=True)
    (root / "README.md").write_text("# Corpus\n\nTwo repositories for tests.\n")
    (alpha / "LICENSE").write_text(MIT_TEXT)
    shutil.copy(STDLIB / "textwrap.py", alpha / "textwrap.py")
    (alpha / "pkg" / "__init__.py").write_bytes(b"")
    shutil.copy(STDLIB / "json" / "decoder.py", alpha / "pkg" / "decoder.py")
    (alpha / "pkg" / "blank.py").write_bytes(b"  \n\t\n\n")
    (alpha / "latin1.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n")
    shutil.copy(STDLIB / "idlelib" / "Icons" / "idle_16.png", alpha / "idle_16.png")
    with open(alpha / "big.txt", "wb") as f:  # sparse: large on paper, nothing to read
        f.truncate(big_bytes)
    os.symlink(alpha / "missing.py", alpha / "broken_link.py")
    (alpha / "fim.py").write_text(FIM_SOURCE)
    (alpha / "__pycache__" / "textwrap.cpython-311.pyc").write_bytes(b"\x00compiled")  # never listed
    (beta / "LICENSE").write_text(APACHE_TEXT)
    shutil.copy(STDLIB / "textwrap.py", beta / "textwrap.py")
    shutil.copy(STDLIB / "json" / "decoder.py", beta / "json" / "decoder.py")
    shutil.copy(STDLIB / "json" / "__init__.py", beta / "json" / "__init__.py")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus")


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    """The corpus curated once (3 tasks, in-process) for tests that only read the outputs."""
    from data_pipeline.curate import CurateConfig, curate

    base = tmp_path_factory.mktemp("curated")
    root = make_corpus(base / "corpus")
    out = base / "out"
    curate(CurateConfig(input=str(root), output=out, tasks=3, workers=1))
    return out
