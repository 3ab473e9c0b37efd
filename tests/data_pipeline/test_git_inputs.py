"""A git repository as input (a path, or a .txt list of them): what `git ls-files` lists at HEAD,
named owner/name after its origin remote, with the commit on every record."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from data_pipeline.curate import CurateConfig, curate
from data_pipeline.readers.sources import list_sources
from tests.data_pipeline.conftest import PACKAGES
from tests.data_pipeline.helpers import outcomes


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path, package: str, origin: str | None = None) -> Path:
    repo = root / package
    shutil.copytree(PACKAGES / package, repo)
    (repo / "build").mkdir()
    (repo / "build" / "out.js").write_text("// a build output, ignored\n")
    (repo / ".gitignore").write_text("build/\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "release")
    if origin:
        git(repo, "remote", "add", "origin", origin)
    return repo


def test_git_repository_lists_tracked_files_with_name_and_commit(tmp_path: Path):
    repo = make_repo(tmp_path, "debug-4.3.4", "https://github.com/debug-js/debug.git")
    (repo / "untracked.js").write_text("let x = 1;\n")
    files = {f.id: f for f in list_sources(str(repo))}
    assert set(files) == {"debug-js/debug/.gitignore", "debug-js/debug/LICENSE", "debug-js/debug/package.json",
                          "debug-js/debug/src/common.js", "debug-js/debug/src/node.js"}
    common = files["debug-js/debug/src/common.js"]
    assert (common.repo, common.path, common.licence, common.commit) == (
        "debug-js/debug", "src/common.js", "MIT", git(repo, "rev-parse", "HEAD"))


def test_txt_list_of_git_repositories_curates_end_to_end(tmp_path: Path):
    make_repo(tmp_path / "src", "debug-4.3.4", "git@github.com:debug-js/debug.git")
    make_repo(tmp_path / "src", "yamllint-1.35.1")
    listing = tmp_path / "repos.txt"
    listing.write_text("# checked-out repositories\nsrc/debug-4.3.4\nsrc/yamllint-1.35.1\n")
    curate(CurateConfig(input=str(listing), output=tmp_path / "out", tasks=1, workers=1))
    found = outcomes(tmp_path / "out")
    where, record = found["debug-js/debug/src/node.js"][0]
    assert where == "kept" and record["metadata"]["commit"] == git(tmp_path / "src" / "debug-4.3.4", "rev-parse", "HEAD")
    where, record = found["yamllint-1.35.1/yamllint/__init__.py"][0]
    assert (where, record["metadata"]["non_permissive"]) == ("licence", "GPL-3.0-or-later")
    assert not any("build/" in doc_id for doc_id in found)


def test_link_leaving_the_repository_is_removed_with_its_own_reason(tmp_path: Path):
    repo = tmp_path / "corpus" / "r"
    repo.mkdir(parents=True)
    shutil.copy(PACKAGES / "debug-4.3.4" / "LICENSE", repo / "LICENSE")
    shutil.copy(PACKAGES / "debug-4.3.4" / "src" / "node.js", repo / "node.js")
    (repo / "passwd.js").symlink_to("/etc/passwd")
    (repo / "inside.js").symlink_to(repo / "node.js")
    curate(CurateConfig(input=str(tmp_path / "corpus"), output=tmp_path / "out", tasks=1, workers=1))
    found = outcomes(tmp_path / "out")
    where, record = found["r/passwd.js"][0]
    assert (where, record["metadata"]["reason"], record["text"]) == ("unreadable", "link_outside_repository", "")
    assert found["r/inside.js"][0][0] in ("kept", "exact_dedup")  # a link inside the repository is its text
