from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from attribution_corpus import STDLIB, function_lines, lines_of, serve_in_thread, server_url, stop_server

from attribution.config import ServerConfig


@pytest.fixture(scope="module")
def base_url(index_dir):
    server = serve_in_thread(index_dir)
    yield server_url(server)
    stop_server(server)


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


def test_fifty_concurrent_posts_are_all_answered(index_dir):
    server = serve_in_thread(index_dir, ServerConfig())
    url = server_url(server) + "/api/check"
    start, end = function_lines(STDLIB / "heapq.py", "heappush")
    body = json.dumps({"snippet": lines_of(STDLIB / "heapq.py", start, end)}).encode()
    barrier = threading.Barrier(50)
    results: list = []

    def client() -> None:
        barrier.wait()
        try:
            results.append(_post(url, body))
        except OSError as exc:  # a reset connection: what backlog 5 did to half of them
            results.append((type(exc).__name__, {}))

    threads = [threading.Thread(target=client) for _ in range(50)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        stop_server(server)
    assert [status for status, _ in results] == [200] * 50
    assert all(reply["exact"][0]["start_line"] == start for _, reply in results)


def _half_sent(port: int) -> socket.socket:
    """A POST whose body never arrives."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b'POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"snip')
    return sock


def test_idle_half_sent_requests_time_out_and_do_not_block_others(index_dir):
    cfg = ServerConfig(max_connections=8, read_timeout_s=1.0)
    server = serve_in_thread(index_dir, cfg)
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/api/check"
    idle = [_half_sent(port) for _ in range(4)]
    try:
        t0 = time.monotonic()
        status, _ = _post(url, b'{"snippet": "import heapq"}')  # served beside the idle ones
        assert status == 200 and time.monotonic() - t0 < cfg.read_timeout_s
        for sock in idle:  # each is answered 408 and closed once its timeout passes
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.0 408"), reply[:80]
            sock.close()
        # Filling every connection slot gets the next client a 503 at once, never a hang ...
        idle = [_half_sent(port) for _ in range(cfg.max_connections)]
        time.sleep(0.2)
        status, reply = _post(url, b'{"snippet": "import heapq"}')
        assert status == 503 and "busy" in reply["error"]
        # ... and once those time out, the server serves again.
        for sock in idle:
            sock.recv(4096)
            sock.close()
        idle = []
        time.sleep(0.2)
        assert _post(url, b'{"snippet": "import heapq"}')[0] == 200
    finally:
        for sock in idle:
            sock.close()
        stop_server(server)


def _serve_in_process(index_dir, cfg, conn) -> None:
    from attribution.server import serve

    serve(index_dir, port=0, cfg=cfg, ready=conn.send)


def test_preforked_servers_answer_together_and_stop_together(index_dir):
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_in_process, args=(index_dir, ServerConfig(processes=2), child))
    proc.start()
    try:
        assert parent.poll(60), "server did not start"
        url = f"http://127.0.0.1:{parent.recv()}/api/check"
        workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(workers) == 1  # the second server, forked after the index was opened
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(_post(url, b'{"snippet": "import heapq"}')))
                   for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [status for status, _ in results] == [200] * 40
    finally:
        proc.terminate()
        proc.join(30)
    assert proc.exitcode == 0
    assert not Path(f"/proc/{workers[0]}").exists() or "Z" in Path(f"/proc/{workers[0]}/stat").read_text().split()[2]
