"""`starforge attribution index|check|serve`.

    starforge attribution index --input runs/demo/data --output runs/demo/attribution --set build.workers=2
    starforge attribution index --config configs/attribution/slurm.yaml --input DATA --output INDEX_DIR
    starforge attribution check runs/demo/attribution "def fibonacci(n):..."
    starforge attribution check runs/demo/attribution --file gen.py --json
    starforge attribution serve runs/demo/attribution --port 8000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from attribution.config import AttributionConfig
from starforge.config import add_config_args, describe, load_config
from starforge.errors import AttributionError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="starforge attribution", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_index = sub.add_parser("index", help="build (or extend) an index of training files")
    p_index.add_argument("--input", type=Path, help="kept output of `starforge data`, or a folder of repositories")
    p_index.add_argument("--output", type=Path, help="index directory to write")
    p_index.add_argument("--help-config", action="store_true", help="list every config key with its default")
    add_config_args(p_index)

    p_check = sub.add_parser("check", help="where does a snippet occur in the training data?")
    p_check.add_argument("index_dir", type=Path)
    p_check.add_argument("snippet", nargs="?", help="code to check (or --file)")
    p_check.add_argument("--file", type=Path, help="read the snippet from this file ('-' for stdin)")
    p_check.add_argument("--json", action="store_true", help="print the result object as JSON")
    p_check.add_argument("--top-k", type=int, default=None, help="search results to list")

    p_serve = sub.add_parser("serve", help="a web page and JSON API for checks, on localhost")
    p_serve.add_argument("index_dir", type=Path)
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")

    args = parser.parse_args(argv)
    if args.command == "index":
        if args.help_config:
            print("\n".join(describe(AttributionConfig)))
            return 0
        cfg = load_config(AttributionConfig, args.config, args.overrides)
        cfg.input = args.input or cfg.input
        cfg.output = args.output or cfg.output
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
    if args.command == "check":
        snippet = _read_snippet(args)
        from attribution.attributor import Attributor

        with Attributor(args.index_dir) as att:
            result = att.check(snippet, top_k=args.top_k)
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            print(format_result(result))
        return 0
    if args.command == "serve":
        from attribution.server import serve

        serve(args.index_dir, args.host, args.port)
        return 0
    return 2


def _read_snippet(args: argparse.Namespace) -> str:
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
