"""The server's "Am I in the data?" page over an index of a curate run of real released packages."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from attribution_corpus import serve_in_thread, server_url, stop_server

from attribution import build_index
from attribution.config import AttributionConfig
from data_pipeline.curate import CurateConfig, curate

PACKAGES = Path(__file__).parents[1] / "data_pipeline" / "fixtures" / "packages"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("lookup")
    listing = root / "repos.yaml"
    listing.write_text(f"- {{path: {PACKAGES / 'debug-4.3.4'}, name: debug-js/debug}}\n"
                       f"- {{path: {PACKAGES / 'yamllint-1.35.1'}, name: adrienverge/yamllint}}\n")
    curate(CurateConfig(input=str(listing), output=root / "run", tasks=1, workers=1, pii=None))
    build_index(AttributionConfig(input=root / "run", output=root / "index"))
    server = serve_in_thread(root / "index")
    yield server_url(server)
    stop_server(server)


def test_lookup_page_and_api(served):
    status, page = _get(served + "/lookup")
    assert status == 200 and b"Am I in the data?" in page and b"/api/lookup" in page
    status, body = _get(served + "/api/lookup?repo=debug-js/debug")
    result = json.loads(body)
    assert status == 200 and result["counts"]["kept"] == 3  # package.json and two source files
    status, body = _get(served + "/api/lookup?owner=adrienverge")
    removed = {r["id"]: r for r in json.loads(body)["removed"]}
    assert removed["adrienverge/yamllint/yamllint/__init__.py"]["non_permissive"] == "GPL-3.0-or-later"
    status, body = _get(served + "/api/lookup")
    assert status == 400 and "exactly one of" in json.loads(body)["error"]


def test_index_of_a_plain_folder_has_no_run_to_look_up(index_dir):
    server = serve_in_thread(index_dir)
    try:
        status, body = _get(server_url(server) + "/api/lookup?repo=a/b")
        assert status == 404 and "not built from a `starforge data curate` run" in json.loads(body)["error"]
    finally:
        stop_server(server)
