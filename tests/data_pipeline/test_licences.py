"""The licence detector (starforge/formats/licences.py) on real released packages' files, and the
curate chain on a folder of those packages (issue 16's "done when")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from data_pipeline.curate import CurateConfig, curate
from starforge.formats.licences import (
    blocking_licences,
    identify_text,
    is_licence_file_name,
    is_permissive,
    licence_from_manifest,
    licence_of_repository,
    normalise_expression,
    spdx_header,
)
from tests.data_pipeline.conftest import PACKAGES
from tests.data_pipeline.helpers import outcomes


@pytest.mark.parametrize("package,spdx,source", [
    ("debug-4.3.4", "MIT", "licence_file:LICENSE"),  # 'AS IS' in single quotes
    ("chalk-4.1.2", "MIT", "licence_file:license"),  # lower-case file name
    ("once-1.4.0", "ISC", "licence_file:LICENSE"),  # askalono's 0BSD twin, with ISC's notice condition
    ("click-8.1.7", "BSD-3-Clause", "licence_file:LICENSE.rst"),
    ("packaging-24.1", "Apache-2.0 OR BSD-2-Clause", "licence_file:LICENSE.APACHE+LICENSE.BSD"),
    ("chardet-5.2.0", "LGPL-2.1-only", "licence_file:LICENSE"),
    ("yamllint-1.35.1", "GPL-3.0-or-later", "licence_file:LICENSE+manifest:pyproject.toml"),  # "or later": its manifest
    ("certifi-2024.8.30", "MPL-2.0", "licence_file:LICENSE"),  # a short notice: low score, copyleft named
])
def test_released_package_licence(package, spdx, source):
    found = licence_of_repository(PACKAGES / package)
    assert (found.spdx, found.source) == (spdx, source)


def test_licence_text_variants_still_recognised():
    text = (PACKAGES / "is-number-7.0.0" / "LICENSE").read_text()
    assert identify_text(text).spdx == "MIT"
    assert identify_text(text.replace('"', "'")).spdx == "MIT"
    assert identify_text(" ".join(text.split())).spdx == "MIT"
    assert identify_text(text.replace("Jon Schlinkert", "Somebody Else")).spdx == "MIT"


def test_text_that_is_no_licence_is_unknown():
    assert identify_text((PACKAGES / "debug-4.3.4" / "src" / "common.js").read_text()).spdx == "unknown"


def test_three_licence_files_combine_with_the_manifest_when_it_names_them(tmp_path: Path):
    repo = tmp_path / "orjson"
    shutil.copytree(PACKAGES / "orjson-3.13.0", repo)
    assert licence_of_repository(repo).spdx == "Apache-2.0 AND MIT AND MPL-2.0"  # no manifest: AND
    (repo / "pyproject.toml").write_text('[project]\nname = "orjson"\nlicense = "MPL-2.0 AND (Apache-2.0 OR MIT)"\n')
    found = licence_of_repository(repo)
    assert found.spdx == "MPL-2.0 AND (Apache-2.0 OR MIT)"
    assert found.source == "licence_file:LICENSE-APACHE+LICENSE-MIT+LICENSE-MPL-2.0+manifest:pyproject.toml"


def test_rust_style_dual_licence_files_are_a_choice(tmp_path: Path):
    for name in ("LICENSE-APACHE", "LICENSE-MIT"):
        shutil.copy(PACKAGES / "orjson-3.13.0" / name, tmp_path / name)
    assert licence_of_repository(tmp_path).spdx == "Apache-2.0 OR MIT"


def test_manifest_is_evidence_when_there_is_no_licence_file(tmp_path: Path):
    shutil.copy(PACKAGES / "debug-4.3.4" / "package.json", tmp_path / "package.json")
    found = licence_of_repository(tmp_path)
    assert (found.spdx, found.source) == ("MIT", "manifest:package.json")


@pytest.mark.parametrize("name,text,spdx", [
    ("package.json", '{"license": "(MIT OR Apache-2.0)"}', "MIT OR Apache-2.0"),
    ("package.json", '{"licenses": [{"type": "MIT"}, {"type": "Apache 2.0"}]}', "MIT OR Apache-2.0"),
    ("Cargo.toml", '[package]\nname = "x"\nlicense = "MIT/Apache-2.0"\n', "MIT OR Apache-2.0"),
    ("pyproject.toml", '[project]\nlicense = {text = "GPL-3.0-or-later"}\n', "GPL-3.0-or-later"),
    ("pyproject.toml", '[project]\nclassifiers = ["License :: OSI Approved :: MIT License"]\n', "MIT"),
    ("setup.cfg", "[metadata]\nlicense = BSD-3-Clause\n", "BSD-3-Clause"),
    ("x.gemspec", 'Gem::Specification.new do |s|\n  s.licenses = ["MIT"]\nend\n', "MIT"),
    ("composer.json", '{"license": ["LGPL-2.1-only", "GPL-3.0-or-later"]}', "LGPL-2.1-only OR GPL-3.0-or-later"),
    ("package.json", "{not json", "unknown"),
])
def test_manifests(name, text, spdx):
    assert licence_from_manifest(name, text) == spdx


def test_pkg_info_of_a_released_sdist():
    text = (PACKAGES / "click-8.1.7" / "PKG-INFO").read_text()
    assert licence_from_manifest("PKG-INFO", text) == "BSD-3-Clause"


def test_spdx_headers():
    assert spdx_header((PACKAGES / "orjson-3.13.0" / "orjson" / "__init__.pyi").read_text()) == "Apache-2.0 OR MIT"
    assert spdx_header("/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */\nint x;") == \
        "GPL-2.0-only WITH Linux-syscall-note"
    assert spdx_header("no header here") is None


def test_licence_file_names():
    for name in ("LICENSE", "licence.txt", "COPYING.LESSER", "LICENSE-MIT", "UNLICENSE", "MIT-LICENSE.md",
                 "License.rst", "LICENSE.APACHE"):
        assert is_licence_file_name(name), name
    for name in ("license.py", "licenses.js", "README.md", "copyright_check.go"):
        assert not is_licence_file_name(name), name


def test_expressions_permissive_iff_satisfiable_with_permissive_only():
    assert is_permissive("MIT OR GPL-2.0") and not is_permissive("MIT AND GPL-2.0")
    assert blocking_licences("MIT AND GPL-2.0") == ["GPL-2.0-only"]
    assert blocking_licences("MIT OR GPL-2.0") == []
    # exceptions (site-packages holds both kinds): the licence they modify decides, and is named
    assert is_permissive("Apache-2.0 WITH LLVM-exception")
    assert blocking_licences("GPL-2.0-only WITH Classpath-exception-2.0") == ["GPL-2.0-only"]
    assert blocking_licences("MIT AND GPL-3.0-or-later WITH GCC-exception-3.1") == ["GPL-3.0-or-later"]
    assert normalise_expression("apache-2.0 or mit") == "Apache-2.0 OR MIT"
    assert normalise_expression("Apache 2.0") == "Apache-2.0"
    assert normalise_expression("SEE LICENSE IN LICENSE.txt") == "unknown"


def test_curate_on_released_packages_keeps_permissive_code_and_names_copyleft(tmp_path: Path):
    corpus = tmp_path / "packages"
    shutil.copytree(PACKAGES, corpus, ignore=shutil.ignore_patterns("README.md"))
    stats = curate(CurateConfig(input=str(corpus), output=tmp_path / "out", tasks=1, workers=1))
    found = outcomes(tmp_path / "out")
    inputs = [p for p in corpus.rglob("*") if p.is_file()]
    assert len(found) == len(inputs) == stats["totals"]["files"]  # every file accounted for, once
    kept = {doc_id: r["metadata"] for doc_id, [(where, r)] in found.items() if where == "kept"}
    assert kept["debug-4.3.4/src/common.js"]["licence"] == "MIT"
    assert kept["chalk-4.1.2/source/util.js"]["licence"] == "MIT"
    assert kept["once-1.4.0/once.js"]["licence"] == "ISC"
    assert kept["click-8.1.7/src/click/globals.py"]["licence"] == "BSD-3-Clause"
    assert kept["packaging-24.1/src/packaging/_structures.py"]["licence"] == "Apache-2.0 OR BSD-2-Clause"
    assert kept["orjson-3.13.0/orjson/__init__.pyi"]["licence_source"] == "spdx_header"
    for package, spdx in (("chardet-5.2.0", "LGPL-2.1-only"), ("yamllint-1.35.1", "GPL-3.0-or-later"),
                          ("certifi-2024.8.30", "MPL-2.0")):
        code = [k for k in found if k.startswith(package) and k.endswith(".py")]
        assert code
        for doc_id in code:
            [(where, record)] = found[doc_id]
            assert (where, record["metadata"]["reason"], record["metadata"]["non_permissive"]) == (
                "licence", "non_permissive_licence", spdx), doc_id
    [(where, record)] = found["orjson-3.13.0/orjson/__init__.py"]  # its own SPDX header says MPL-2.0
    assert (where, record["metadata"]["non_permissive"], record["metadata"]["licence_source"]) == (
        "licence", "MPL-2.0", "spdx_header")
    licence_step = next(s for s in stats["steps"] if s["step"] == "licence")
    assert licence_step["non_permissive"] == {"GPL-3.0-or-later": 1, "LGPL-2.1-only": 2, "MPL-2.0": 3}
