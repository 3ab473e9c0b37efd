"""The one folder walker: order, skipped folders, and each way of treating links, on a tree of
real stdlib files with links, a dangling link and a FIFO."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import pytest

from starforge.files import leaves_root, walk_files

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for d in ("pkg/sub", ".github", "__pycache__", "b"):
        (root / d).mkdir(parents=True)
    shutil.copy(STDLIB / "textwrap.py", root / "textwrap.py")
    shutil.copy(STDLIB / "json" / "decoder.py", root / "pkg" / "decoder.py")
    shutil.copy(STDLIB / "json" / "scanner.py", root / "pkg" / "sub" / "scanner.py")
    shutil.copy(STDLIB / "colorsys.py", root / "b" / "colorsys.py")
    (root / ".github" / "ci.yml").write_text("on: push\n")
    (root / ".env").write_text("KEY=1\n")
    (root / "__pycache__" / "textwrap.cpython-311.pyc").write_bytes(b"\x00compiled")
    (root / "README.md").write_text("# repo\n")
    os.symlink(root / "textwrap.py", root / "a_link.py")
    os.symlink(root / "pkg", root / "pkg_link")
    os.symlink(root / "missing.py", root / "dangling.py")
    os.mkfifo(root / "pipe")
    return root


def rel(root: Path, paths) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_list_gives_every_entry_in_walk_order_links_not_entered(tree: Path):
    assert rel(tree, walk_files(tree, skip_dirs={"__pycache__"}, links="list")) == [
        ".env", "README.md", "a_link.py", "dangling.py", "pipe", "pkg_link", "textwrap.py",
        ".github/ci.yml", "b/colorsys.py", "pkg/decoder.py", "pkg/sub/scanner.py"]


def test_follow_reads_through_file_links_only(tree: Path):
    assert rel(tree, walk_files(tree, links="follow")) == [
        ".env", "README.md", "a_link.py", "textwrap.py", ".github/ci.yml", "__pycache__/textwrap.cpython-311.pyc",
        "b/colorsys.py", "pkg/decoder.py", "pkg/sub/scanner.py"]


def test_skip_leaves_links_out_and_hidden_names_go_with_skip_hidden(tree: Path):
    assert rel(tree, walk_files(tree, skip_dirs=["__pycache__"], skip_hidden=True, links="skip")) == [
        "README.md", "textwrap.py", "b/colorsys.py", "pkg/decoder.py", "pkg/sub/scanner.py"]


def test_suffixes_filter_names(tree: Path):
    assert rel(tree, walk_files(tree, skip_dirs={"__pycache__"}, suffixes=(".py",), links="list")) == [
        "a_link.py", "dangling.py", "textwrap.py", "b/colorsys.py", "pkg/decoder.py", "pkg/sub/scanner.py"]


def test_a_file_root_is_itself_and_a_missing_root_is_empty(tree: Path):
    assert list(walk_files(tree / "textwrap.py")) == [tree / "textwrap.py"]
    assert list(walk_files(tree / "a_link.py")) == [tree / "a_link.py"]
    assert list(walk_files(tree / "nowhere")) == []


def test_unknown_link_policy_is_refused(tree: Path):
    with pytest.raises(ValueError, match="links='resolve'"):
        list(walk_files(tree, links="resolve"))


def test_links_leaving_the_root_are_never_read_through(tmp_path: Path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "a.py").write_text("x = 1\n")
    os.symlink("/etc/passwd", tmp_path / "repo" / "passwd.py")
    os.symlink(tmp_path / "repo" / "a.py", tmp_path / "repo" / "b.py")
    assert rel(tmp_path / "repo", walk_files(tmp_path / "repo", links="follow")) == ["a.py", "b.py"]
    assert leaves_root(tmp_path / "repo" / "passwd.py", tmp_path / "repo")
    assert not leaves_root(tmp_path / "repo" / "b.py", tmp_path / "repo")
    assert not leaves_root(tmp_path / "repo" / "a.py", tmp_path / "repo")
