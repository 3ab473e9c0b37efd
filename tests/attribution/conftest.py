"""Training sets made of real stdlib source files, indexed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from attribution_corpus import make_corpus

from attribution import Attributor, build_index
from attribution.config import AttributionConfig


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def index_dir(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("index") / "idx"
    build_index(AttributionConfig(input=corpus, output=out))
    return out


@pytest.fixture(scope="session")
def att(index_dir):
    with Attributor(index_dir) as attributor:
        yield attributor
