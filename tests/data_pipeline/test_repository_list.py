"""A YAML list of checked-out repositories, with stars: near dedup keeps the most starred copy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from data_pipeline.curate import CurateConfig, curate
from data_pipeline.readers.sources import list_sources
from starforge.errors import DataError
from tests.data_pipeline.conftest import MIT_TEXT, STDLIB
from tests.data_pipeline.helpers import outcomes

SCANNER = (STDLIB / "json" / "scanner.py").read_text()


def checkout(root: Path, name: str, text: str) -> Path:
    """A real git repository with one commit (LICENSE, scanner.py)."""
    repo = root / name
    repo.mkdir(parents=True)
    (repo / "LICENSE").write_text(MIT_TEXT)
    (repo / "scanner.py").write_text(text)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "import")
    return repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          check=True, capture_output=True, text=True).stdout


def test_list_with_stars_keeps_most_starred_near_copy(tmp_path: Path):
    checkout(tmp_path / "src", "fork", SCANNER.replace("NUMBER_RE", "NUMBER_PATTERN", 1))
    checkout(tmp_path / "src", "upstream", SCANNER + "\n# upstream\n")
    shutil.copy(STDLIB / "colorsys.py", tmp_path / "src" / "upstream" / "colorsys.py")
    git(tmp_path / "src" / "upstream", "add", "colorsys.py")
    git(tmp_path / "src" / "upstream", "commit", "-q", "-m", "colorsys")
    listing = tmp_path / "repos.yaml"
    listing.write_text("- {path: src/fork, name: alice/json-fork, stars: 3}\n"
                       "- {path: src/upstream, name: python/json, stars: 900, updated: '2024-05-01T00:00:00Z'}\n")
    files = {f.id: f for f in list_sources(str(listing))}
    assert files["python/json/scanner.py"].stars == 900 and files["alice/json-fork/scanner.py"].licence == "MIT"
    assert not any(".git" in i for i in files)
    curate(CurateConfig(input=str(listing), output=tmp_path / "out", tasks=1, workers=1, pii=None))
    found = outcomes(tmp_path / "out")
    where, record = found["alice/json-fork/scanner.py"][0]
    assert where == "near_dedup" and record["metadata"]["duplicate_of"] == "python/json/scanner.py"
    kept = found["python/json/scanner.py"][0][1]["metadata"]
    assert (kept["stars"], kept["updated"], kept["repo"]) == (900, "2024-05-01T00:00:00Z", "python/json")


def test_bad_list_entries_are_data_errors(tmp_path: Path):
    listing = tmp_path / "repos.yaml"
    listing.write_text("- {name: x}\n")
    with pytest.raises(DataError, match="entry 1 has no `path`"):
        list_sources(str(listing))
    listing.write_text(f"- {tmp_path / 'missing'}\n")
    with pytest.raises(DataError, match="is not a folder"):
        list_sources(str(listing))
