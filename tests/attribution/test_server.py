from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from attribution_corpus import STDLIB, function_lines, lines_of

from attribution.server import make_server


@pytest.fixture(scope="module")
def base_url(index_dir):
    server = make_server(index_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    server.attributor.close()


def _post(url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_page_and_index_summary_are_served(base_url):
    with urllib.request.urlopen(base_url + "/", timeout=10) as resp:
        page = resp.read().decode()
    assert "<textarea" in page and "/api/check" in page
    with urllib.request.urlopen(base_url + "/api/index", timeout=10) as resp:
        assert json.loads(resp.read())["docs"] == 12


def test_check_api_returns_the_check_object(base_url, att):
    start, end = function_lines(STDLIB / "textwrap.py", "shorten")
    snippet = lines_of(STDLIB / "textwrap.py", start, end)
    status, body = _post(base_url + "/api/check", json.dumps({"snippet": snippet}).encode())
    assert status == 200 and body == att.check(snippet)
    assert (body["exact"][0]["start_line"], body["exact"][0]["end_line"]) == (start, end)


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400),
    (b'{"snippet": ""}', 400),
    (b'{"snippet": 42}', 400),
    (b'{"snippet": "x", "top_k": "ten"}', 400),
    (b'["snippet"]', 400),
])
def test_bad_requests_get_400_and_a_message(base_url, body, status):
    got, reply = _post(base_url + "/api/check", body)
    assert got == status and reply["error"]


def test_query_syntax_and_binary_snippets_are_answered(base_url):
    for snippet in ('a AND b OR (c NOT "d*")', "\x00\x01\ufffd", "日本語 " * 50):
        status, body = _post(base_url + "/api/check", json.dumps({"snippet": snippet}).encode())
        assert status == 200 and set(body) == {"membership", "exact", "search"}


def test_request_over_the_size_limit_is_refused_and_server_keeps_serving(base_url, att):
    huge = json.dumps({"snippet": "x" * (2 * att.cfg.exact.max_snippet_bytes + 10_000)}).encode()
    try:
        status, body = _post(base_url + "/api/check", huge)
        assert status == 413 and "limit" in body["error"]
    except (ConnectionResetError, BrokenPipeError, urllib.error.URLError):
        pass  # the server answers 413 without reading the body; the client may see the reset first
    over = json.dumps({"snippet": "y = 1\n" * (att.cfg.exact.max_snippet_bytes // 6 + 1)}).encode()
    status, body = _post(base_url + "/api/check", over)
    assert status == 400 and "max_snippet_bytes" in body["error"]
    status, _ = _post(base_url + "/api/check", b'{"snippet": "import heapq"}')
    assert status == 200


def test_binary_request_body_gets_400(base_url):
    status, body = _post(base_url + "/api/check", bytes(range(256)) * 8)
    assert status == 400 and body["error"]


def test_megabyte_snippet_gets_413_with_the_limit(base_url):
    status, body = _post(base_url + "/api/check", json.dumps({"snippet": "z = 2\n" * (1_000_000 // 6)}).encode())
    assert status == 413 and "limit" in body["error"] and "max_snippet_bytes" not in body["error"]


@pytest.mark.parametrize("snippet", ["AND", "foo AND bar", '"', '"quoted phrase"', "(", ")", "(a OR b)", "*", "a*b*",
                                     "Ωmega = 'naïve' # 日本語 🚀", "\x00\x1b[31m\x7f"])
def test_query_syntax_and_odd_text_get_200(base_url, snippet):
    status, body = _post(base_url + "/api/check", json.dumps({"snippet": snippet}).encode())
    assert status == 200 and isinstance(body["search"], list) and 0.0 <= body["membership"] <= 1.0
