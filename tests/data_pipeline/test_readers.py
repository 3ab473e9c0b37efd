from __future__ import annotations

from pathlib import Path

import pytest

from data_pipeline.readers.languages import language_of
from data_pipeline.readers.repositories import RepositoryReader, read_source_file
from data_pipeline.readers.sources import list_repository_folder, list_site_packages, list_sources, list_stdlib
from starforge.errors import DataError
from starforge.formats.licences import identify_text, is_permissive, licence_of_repository
from tests.data_pipeline.conftest import MIT_TEXT, STDLIB


def test_cpython_licence_file_is_python_licence():
    assert identify_text((STDLIB / "LICENSE.txt").read_text()).spdx == "Python-2.0.1"


def test_repository_licence_from_copying_file(tmp_path: Path):
    (tmp_path / "COPYING").write_text(MIT_TEXT)
    assert licence_of_repository(tmp_path).spdx == "MIT"
    assert licence_of_repository(tmp_path / "nowhere").spdx == "unknown"


def test_permissive_expressions():
    assert is_permissive("MIT") and is_permissive("MIT OR GPL-3.0") and is_permissive("MIT AND BSD-3-Clause")
    assert is_permissive("Apache-2.0 WITH LLVM-exception AND BSL-1.0")
    assert not is_permissive("GPL-3.0") and not is_permissive("unknown") and not is_permissive("MIT AND GPL-3.0")


def test_language_from_extension_and_name():
    assert language_of("a/b/mod.py") == "Python"
    assert language_of("a/Makefile") == "Makefile"
    assert language_of("a/data.bin") == "unknown"


def test_folder_lists_one_repo_per_subfolder_with_relative_paths(corpus: Path):
    files = {f.path: f for f in list_repository_folder(corpus)}
    assert files["alpha/pkg/decoder.py"].repo == "alpha"
    assert files["alpha/pkg/decoder.py"].licence == "MIT"
    assert files["beta/json/decoder.py"].licence == "Apache-2.0"
    assert files["README.md"].repo == "corpus"
    assert "alpha/broken_link.py" in files
    assert not any("__pycache__" in p for p in files)


def test_missing_input_folder_is_a_data_error(tmp_path: Path):
    with pytest.raises(DataError, match="no such folder"):
        list_sources(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="unknown built-in corpus"):
        list_sources("builtin:nope")


def test_stdlib_read_as_cpython_repositories():
    files = {f.id: f for f in list_stdlib()}
    decoder = files["cpython/Lib/json/decoder.py"]
    assert (decoder.repo, decoder.path, decoder.licence) == ("cpython/json", "json/decoder.py", "PSF-2.0")
    assert files["cpython/Lib/textwrap.py"].repo == "cpython/Lib"
    assert not any("site-packages/" in i or "__pycache__" in i for i in files)


def test_site_packages_only_permissive_named_distributions():
    files = list_site_packages(["PyYAML", "tqdm"])
    repos = {f.repo for f in files}
    assert "pypi/PyYAML" in repos  # MIT
    assert all(is_permissive(f.licence) for f in files)
    assert any(f.path == "yaml/__init__.py" for f in files)


def test_oversized_file_not_read(corpus: Path):
    big = next(f for f in list_repository_folder(corpus) if f.path == "alpha/big.txt")
    doc = read_source_file(big, max_bytes=1000)
    assert doc.media[0].media_bytes is None
    assert doc.metadata["size"] == 2_000_000


def test_reader_tasks_cover_every_file_once(corpus: Path):
    ids = []
    for rank in range(3):
        ids += [d.id for d in RepositoryReader(str(corpus))(rank=rank, world_size=3)]
    assert sorted(ids) == ids == sorted(f.id for f in list_repository_folder(corpus))
