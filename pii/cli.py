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
import json
import logging
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from pii.analyzer import PiiAnalyzer
from pii.config import PiiConfig
from pii.files import read_source, walk_files
from pii.redact import redact_text
from starforge.config import add_config_args, describe, load_config, save_config
from starforge.errors import PiiError
from starforge.log import progress

logger = logging.getLogger(__name__)


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
        return scan(args.paths, config, as_json=args.json)
    return redact(args.input, args.output, config, audit=args.audit)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def scan(paths: list[Path], config: PiiConfig, as_json: bool = False) -> int:
    for path in paths:
        if not path.exists():
            raise PiiError(f"{path}: no such file or folder; pass files or folders to scan")
    analyzer = PiiAnalyzer(config)
    files = [f for p in paths for f in walk_files(p)]
    report, skipped, per_class = [], Counter(), Counter()
    nbytes, t0 = 0, time.perf_counter()
    for path in progress(files, desc="scan", unit="file"):
        text, reason = read_source(path, config.max_file_bytes)
        if text is None:
            skipped[reason] += 1
            report.append({"path": str(path), "skipped": reason, "findings": []})
            continue
        nbytes += len(text)
        findings = analyzer.analyze(text, path)
        rows = []
        for f in findings:
            line, col = _line_col(text, f.start)
            rows.append({**f.to_json(), "line": line, "col": col})
            per_class[f.cls] += 1
            if not as_json:
                print(f"{path}:{line}:{col}\t{f.cls}\t{f.recognizer}")
        report.append({"path": str(path), "skipped": None, "findings": rows})
    seconds = time.perf_counter() - t0
    summary = {"files": len(files), "scanned": len(files) - sum(skipped.values()), "skipped": dict(skipped),
               "findings": dict(per_class), "mb": round(nbytes / 1e6, 3),
               "mb_s": round(nbytes / 1e6 / max(seconds, 1e-9), 2)}
    if as_json:
        json.dump({"files": report, "summary": summary}, sys.stdout)
        print()
    for item in report:
        if item["skipped"]:
            logger.debug("%s: not scanned (%s)", item["path"], item["skipped"])
    logger.info("scanned %d of %d files (%.2f MB, %.1f MB/s); skipped %s; findings %s", summary["scanned"],
                summary["files"], summary["mb"], summary["mb_s"], dict(skipped) or "none", dict(per_class) or "none")
    return 0


def redact(src: Path, dst: Path, config: PiiConfig, audit: Path | None = None) -> int:
    if not src.exists():
        raise PiiError(f"{src}: no such file or folder; pass the file or folder to redact as IN")
    src_r, dst_r = src.resolve(), dst.resolve()
    if dst_r == src_r or src.is_dir() and dst_r.is_relative_to(src_r):
        raise PiiError(f"{dst}: OUT must lie outside IN ({src}); choose another output path")
    if src.is_file() and dst.is_dir():
        dst = dst / src.name
    audit = audit or dst.parent / f"{dst.name}.pii"
    audit.mkdir(parents=True, exist_ok=True)
    analyzer = PiiAnalyzer(config)
    files = list(walk_files(src))
    counts, skipped, per_class = Counter(), Counter(), Counter()
    nbytes, t0 = 0, time.perf_counter()
    with (audit / "redactions.jsonl").open("w", encoding="utf-8") as log:
        for path in progress(files, desc="redact", unit="file"):
            rel = path.relative_to(src) if src.is_dir() else Path(path.name)
            out = dst / rel if src.is_dir() else dst
            text, reason = read_source(path, config.max_file_bytes)
            if reason == "too_large" or reason == "unreadable":
                skipped[reason] += 1
                logger.warning("%s: not written (%s); redact or remove it by hand", path, reason)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if text is None:
                shutil.copyfile(path, out)
                counts[f"copied_{reason}"] += 1
                continue
            nbytes += len(text)
            redacted, redactions = redact_text(text, path=str(rel), analyzer=analyzer)
            out.write_bytes(redacted.encode("utf-8"))
            counts["redacted" if redactions else "unchanged"] += 1
            for r in redactions:
                log.write(json.dumps(r.to_json()) + "\n")
                per_class[r.cls] += 1
    seconds = time.perf_counter() - t0
    summary = {"input": str(src), "output": str(dst), "files": len(files), **counts, "skipped": dict(skipped),
               "redactions": dict(per_class), "mb": round(nbytes / 1e6, 3),
               "mb_s": round(nbytes / 1e6 / max(seconds, 1e-9), 2), "audit": str(audit)}
    (audit / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    save_config(config, audit / "config.yaml")
    logger.info("redacted %d files (%d changed, %d copied as binary, %d not written) into %s; redactions %s; "
                "%.2f MB at %.1f MB/s; audit in %s", len(files), counts["redacted"],
                counts["copied_binary"] + counts["copied_undecodable"], sum(skipped.values()), dst,
                dict(per_class) or "none", summary["mb"], summary["mb_s"], audit)
    return 0
