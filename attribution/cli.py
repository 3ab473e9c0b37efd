"""`starforge attribution index|check|serve`.

    starforge attribution index --input runs/demo/data --output runs/demo/attribution --set build.workers=2
    starforge attribution index --config configs/attribution/slurm.yaml --input DATA --output INDEX_DIR
    starforge attribution check runs/demo/attribution "def fibonacci(n):..."
    starforge attribution check runs/demo/attribution --file gen.py --json
    starforge attribution serve runs/demo/attribution --port 8000
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starforge.commands import Command, run_commands
from starforge.errors import AttributionError, ConfigError


@dataclass
class CheckCommand:
    index_dir: Path | None = None
    """Index folder written by `starforge attribution index`."""
    snippet: str | None = None
    """Code to check (or --file)."""
    file: Path | None = None
    """Read the snippet from this file ('-' for stdin)."""
    json: bool = False
    """Print the result object as JSON."""
    top_k: int | None = None
    """Search results to list (default: the index's search.top_k)."""

    def __post_init__(self):
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {self.top_k}")


@dataclass
class ServeCommand:
    index_dir: Path | None = None
    """Index folder written by `starforge attribution index`."""
    port: int = 8000
    """TCP port (0: any free one)."""
    host: str = "127.0.0.1"
    """Address to bind (default: localhost only)."""

    def __post_init__(self):
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {self.port}")


def _index(cfg) -> int:
    from attribution.index import build_index

    result = build_index(cfg)
    if "slurm" in result:
        job = result["slurm"]
        print(f"slurm job for {len(result['pending'])} shard(s) in {job['tasks']} task(s): {job['script']}"
              + (" (written, not submitted: sbatch it)" if cfg.build.dry_run else " (submitted)")
              + "; when it has finished, rerun this command to write the manifest")
        return 0
    t = result["totals"]
    print(f"index {cfg.output}: {t['docs']:,} files, {t['text_bytes'] / 1e6:.1f} MB of text in "
          f"{len(result['shards'])} shards ({len(result['built'])} built, {len(result['skipped'])} up to date); "
          f"index {t['index_bytes'] / 1e6:.1f} MB " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in t["bytes"].items()))
    return 0


def _check(cfg: CheckCommand) -> int:
    snippet = _read_snippet(cfg)
    from attribution.attributor import Attributor

    with Attributor(cfg.index_dir) as att:
        result = att.check(snippet, top_k=cfg.top_k)
    print(json.dumps(result, ensure_ascii=False, indent=1) if cfg.json else format_result(result))
    return 0


def _serve(cfg: ServeCommand) -> int:
    _check_listen(cfg.host, cfg.port)
    from attribution.server import serve

    serve(cfg.index_dir, cfg.host, cfg.port)
    return 0


def _check_listen(host: str, port: int) -> None:
    """A bad address or a port in use is a one-line error before the index is opened."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Refused before any name lookup: not a host name (RFC 1123 labels), or dotted numbers
        # that are no IPv4 address (999.1.2.3).
        label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
        if not re.fullmatch(rf"{label}(\.{label})*\.?", host) or re.fullmatch(r"[0-9.]+", host):
            raise AttributionError(f"--host {host!r}: not an address or host name; give an address such as "
                                   "127.0.0.1 or 0.0.0.0") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise AttributionError(f"--host {host!r}: cannot resolve it ({exc}); give an address such as "
                               "127.0.0.1 or 0.0.0.0") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise AttributionError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port "
                                   "(or --port 0 for any free one)") from None


COMMANDS = [
    Command("index", "attribution.config:AttributionConfig", _index,
            "build (or extend) an index of training files", required=("input", "output"),
            inputs=("input",), outputs=("output",)),
    Command("check", CheckCommand, _check, "where does a snippet occur in the training data?",
            positional=("index_dir", "snippet"), required=("index_dir",)),
    Command("serve", ServeCommand, _serve, "a web page and JSON API for checks, on localhost",
            positional=("index_dir",), required=("index_dir",)),
]


def main(argv: list[str] | None = None) -> int:
    return run_commands("starforge attribution", COMMANDS, argv, description=__doc__.split("\n")[0])


def _read_snippet(args: CheckCommand) -> str:
    if args.file is not None and args.snippet is not None:
        raise AttributionError("give the snippet as an argument or with --file, not both")
    if args.file is None:
        if args.snippet is None:
            raise AttributionError("no snippet; pass it as an argument or with --file F")
        return args.snippet
    if str(args.file) == "-":
        return sys.stdin.read()
    try:
        return args.file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AttributionError(f"{args.file}: cannot read snippet file ({exc.strerror})") from None


def format_result(result: dict[str, Any]) -> str:
    lines = [f"membership: {result['membership']:.2f}  (share of the snippet's n-grams seen in training, best phase)"]
    lines.append("")
    if result["exact"]:
        lines.append("exact matches (longest spans first; up to 3 places a span):")
        rows, shown = [], {}
        for m in result["exact"]:
            key = (m["snippet_start"], m["snippet_end"])
            shown[key] = shown.get(key, 0) + 1
            if shown[key] <= 3:
                rows.append([str(m["length"]), str(m["count"]), f"{m['snippet_start']}-{m['snippet_end']}",
                             m["repo"], m["path"], f"{m['start_line']}-{m['end_line']}", m["licence"]])
        lines.append(_table(["bytes", "count", "snippet", "repo", "path", "lines", "licence"], rows))
    else:
        lines.append("exact matches: none of the minimum length")
    lines.append("")
    if result["search"]:
        lines.append("similar files (BM25):")
        lines.append(_table(["score", "repo", "path", "lines", "licence"],
                            [[f"{m['score']:.2f}", m["repo"], m["path"], f"{m['start_line']}-{m['end_line']}",
                              m["licence"]] for m in result["search"]]))
    else:
        lines.append("similar files: none")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(["  " + fmt.format(*header)] + ["  " + fmt.format(*r) for r in rows])
