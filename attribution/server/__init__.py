"""`starforge attribution serve INDEX_DIR --port P`: a small web page and JSON API on localhost.

    GET  /              the page (index.html beside this file): paste a snippet, see membership,
                        exact matches with their lines highlighted, ranked files, licence badges
    POST /api/check     {"snippet": "...", "top_k": 10} -> the `Attributor.check` object
    GET  /api/index     the index manifest's totals and shard names
    GET  /lookup, /api/lookup?repo=|owner=   "Am I in the data?" (lookup.py)

Standard library only (`http.server`), bound to 127.0.0.1 by default: a local tool, not a
public service. A request body over the limit (twice exact.max_snippet_bytes plus 4 KiB, as
JSON escaping can double a snippet) gets 413: its body is read and dropped up to DRAIN_BYTES
so the client sees the answer rather than a reset, and the connection is closed. Bad input gets
400 with {"error": message}; a bug gets 500 with a message and a logged traceback, and the
server goes on.

Under load (`server.*` in the index's config.yaml, attribution/config.py `ServerConfig`): the
listen backlog holds `backlog` connections (http.server's default of 5 reset half of 50
concurrent clients); each connection is read on its own thread, at most `max_connections` at
once, with a `read_timeout_s` timeout per read and for the whole body, so idle or half-sent
requests are closed (408) and never hold a check worker; `workers` checks run at once and up to
`queue` wait their turn; past either bound the answer is an immediate 503 with Retry-After.
With `processes` > 1, `serve` forks that many servers after opening the index (each bound
applies per process), so checks use more than one core.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from attribution.attributor import Attributor
from attribution.config import ServerConfig
from attribution.index import read_manifest
from attribution.server import lookup
from starforge.errors import AttributionError

log = logging.getLogger(__name__)
PAGE = Path(__file__).with_name("index.html")
DRAIN_BYTES = 64 << 20  # larger bodies are not read at all: the connection is closed on them


class _BodyTimeout(Exception):
    """The client stopped sending its request body."""


class AttributionServer(ThreadingHTTPServer):
    """http.server with a real listen backlog and a bound on open connections (503 beyond it)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], cfg: ServerConfig):
        self.request_queue_size = cfg.backlog  # read by server_activate's listen()
        self.cfg = cfg
        self._open = threading.BoundedSemaphore(cfg.max_connections)
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._open.acquire(blocking=False):
            self.refused += 1
            # On a short-lived thread of its own, so a flood never stalls the accept loop.
            threading.Thread(target=self._refuse, args=(request,), daemon=True).start()
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._open.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._open.release()

    def _refuse(self, sock: socket.socket) -> None:
        """A 503 written straight to a connection no handler will serve. What the client has sent
        is read first (for at most a second), else closing with unread data resets the
        connection and the client sees a broken pipe instead of the answer."""
        body = json.dumps({"error": f"server busy: over {self.cfg.max_connections} open connections; "
                                    "retry shortly"}).encode()
        head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            sock.settimeout(0.2)
            deadline = time.monotonic() + 1.0
            with contextlib.suppress(TimeoutError):
                while time.monotonic() < deadline and sock.recv(1 << 16):
                    pass
            sock.settimeout(1.0)
            sock.sendall(head + body)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            sock.close()


def make_server(index_dir: Path, host: str = "127.0.0.1", port: int = 8000,
                cfg: ServerConfig | None = None) -> AttributionServer:
    """The page and API over `index_dir`; `cfg` defaults to the index's `server` section."""
    att = Attributor(index_dir)
    manifest = read_manifest(index_dir)
    cfg = cfg or att.cfg.server
    admitted = threading.BoundedSemaphore(cfg.workers + cfg.queue)  # running or waiting
    running = threading.BoundedSemaphore(cfg.workers)
    page = PAGE.read_bytes()
    lookup_run = lookup.run_dir_of(att.cfg.input)
    limit = att.cfg.exact.max_snippet_bytes * 2 + 4096  # JSON escaping can double a snippet
    summary = {"index": str(index_dir), "shards": [s["name"] for s in manifest["shards"]], **manifest["totals"],
               "max_request_bytes": limit, "max_snippet_bytes": att.cfg.exact.max_snippet_bytes,
               "ngram": att.cfg.bloom.ngram}

    class Handler(BaseHTTPRequestHandler):
        server_version = "starforge-attribution"
        timeout = cfg.read_timeout_s  # StreamRequestHandler sets it on the socket: every read waits at most this

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif self.path == "/api/index":
                self._json(HTTPStatus.OK, summary)
            elif (found := lookup.route(self.path, lookup_run)) is not None:  # "Am I in the data?" (lookup.py)
                self._send(*found)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/api/check":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
                return
            if length < 0:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "negative Content-Length"})
                return
            if length > limit:
                self.close_connection = True
                if length <= DRAIN_BYTES:
                    self._drain(length)
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           {"error": f"request is {length:,} bytes, over the {limit:,}-byte limit; "
                                     f"check at most {att.cfg.exact.max_snippet_bytes:,} bytes of code at a time"})
                return
            try:
                raw = self._read_body(length)
            except (_BodyTimeout, TimeoutError):
                self.close_connection = True
                self._json(HTTPStatus.REQUEST_TIMEOUT, {"error": f"request body not received within "
                                                                 f"{cfg.read_timeout_s:g} s"})
                return
            if len(raw) < length:  # the client closed mid-body: nobody to answer
                self.close_connection = True
                return
            if not admitted.acquire(blocking=False):
                self.close_connection = True
                self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
                body = json.dumps({"error": f"server busy: {cfg.workers + cfg.queue} checks running or queued; "
                                            "retry shortly"}).encode()
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(body)
                return
            try:
                self._check(raw)
            finally:
                admitted.release()

        def _check(self, raw: bytes) -> None:
            try:
                request = json.loads(raw or b"{}")
                snippet = request.get("snippet") if isinstance(request, dict) else None
                if not isinstance(snippet, str):
                    raise AttributionError('send {"snippet": "<code>"}')
                top_k = request.get("top_k")
                if top_k is not None and not (isinstance(top_k, int) and 0 < top_k <= 100):
                    raise AttributionError("top_k must be an integer from 1 to 100")
                with running:
                    result = att.check(snippet, top_k=top_k)
            except UnicodeDecodeError:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "request body is not UTF-8 JSON; "
                                                             'send {"snippet": "<code>"}'})
                return
            except (ValueError, AttributionError) as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            except Exception as exc:  # a bug: answer, log it, keep serving
                log.exception("check failed")
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error ({type(exc).__name__}); "
                                                                       "see the server log"})
                return
            self._json(HTTPStatus.OK, result)

        def _read_body(self, length: int) -> bytes:
            """The body, within read_timeout_s in all (a per-read timeout alone lets a client
            sending a byte every few seconds hold the connection for hours)."""
            deadline = time.monotonic() + cfg.read_timeout_s
            chunks, left = [], length
            while left > 0:
                if time.monotonic() > deadline:
                    raise _BodyTimeout
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        def _drain(self, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)

    server = AttributionServer((host, port), Handler, cfg)
    server.attributor = att  # type: ignore[attr-defined]
    return server


def serve(index_dir: Path, host: str = "127.0.0.1", port: int = 8000, cfg: ServerConfig | None = None,
          ready: Callable[[int], None] | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C. With `server.processes` > 1 the process forks that many
    servers in all, pre-fork style, after the index is open: they share its pages through the
    page cache and take turns accepting on one listening socket, so checks (Python, one GIL per
    process) use more than one core. `ready(port)` is called once the socket is bound."""
    server = make_server(index_dir, host, port, cfg)
    cfg = server.cfg
    children: list[int] = []
    if cfg.processes > 1:
        server.socket.setblocking(False)  # an accept another process won raises, and is skipped
        for _ in range(cfg.processes - 1):
            pid = os.fork()
            if pid == 0:  # a worker: serve until terminated
                try:
                    server.serve_forever()
                finally:
                    os._exit(0)
            children.append(pid)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("attribution page on http://%s:%d/ (index %s, %d process(es)); Ctrl-C stops",
             host, server.server_address[1], index_dir, cfg.processes)
    if ready is not None:
        ready(server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
        server.server_close()
        server.attributor.close()  # type: ignore[attr-defined]
