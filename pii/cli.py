"""`starforge pii scan PATH...` and `starforge pii redact IN OUT`.

scan   prints one row per finding (path:line:col, class, recognizer; never the value) or, with
       --json, one JSON object; then a summary (files, skipped by reason, findings per class,
       MB/s).
redact writes IN (a file or a folder) to OUT with every finding replaced; a folder's layout
       is mirrored, binary and undecodable files copied unchanged, files over
       `max_file_bytes` left out and reported. Beside OUT, in `<OUT>.pii/` (or --audit DIR):
       redactions.jsonl (class, span, line, file per redaction, no values), summary.json and
       the resolved config.yaml.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pii.config import PiiConfig
from pii.redact import redact_path
from pii.scan import scan_paths
from starforge.config import add_config_args, describe, load_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starforge pii", description="Find and redact PII and secrets in code.")
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default")
    sub = parser.add_subparsers(dest="command")
    scan = sub.add_parser("scan", help="report PII findings in files or folders")
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    scan.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    add_config_args(scan)
    redact = sub.add_parser("redact", help="write a redacted copy of a file or folder")
    redact.add_argument("input", type=Path, metavar="IN")
    redact.add_argument("output", type=Path, metavar="OUT")
    redact.add_argument("--audit", type=Path, default=None, help="audit folder (default: <OUT>.pii)")
    add_config_args(redact)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.help_config:
        print("\n".join(describe(PiiConfig)))
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    config = load_config(PiiConfig, args.config, args.overrides)
    if args.command == "scan":
        return scan_paths(args.paths, config, as_json=args.json)
    return redact_path(args.input, args.output, config, audit=args.audit)
