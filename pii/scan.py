"""`starforge pii scan`: findings in files and folders, never their values.

One row per finding (path:line:col, class, recognizer) or, with `as_json`, one JSON object;
then a summary (files, skipped by reason, text files that are not UTF-8, findings per class,
MB/s). Text in any encoding is scanned (pii/files.py); only binary files are skipped.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

from pii.analyzer import PiiAnalyzer
from pii.config import PiiConfig
from pii.files import read_source, walk_files
from starforge.errors import PiiError
from starforge.log import progress

logger = logging.getLogger(__name__)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def scan_paths(paths: list[Path], config: PiiConfig, as_json: bool = False) -> int:
    """Report the findings in `paths` (files or folders) on stdout; 0 when done."""
    for path in paths:
        if not path.exists():
            raise PiiError(f"{path}: no such file or folder; pass files or folders to scan")
    analyzer = PiiAnalyzer(config)
    files = [f for p in paths for f in walk_files(p)]
    report, skipped, per_class = [], Counter(), Counter()
    nbytes, non_utf8, t0 = 0, 0, time.perf_counter()
    for path in progress(files, desc="scan", unit="file"):
        text, reason = read_source(path, config.max_file_bytes)
        if text is None:
            skipped[reason] += 1
            report.append({"path": str(path), "skipped": reason, "non_utf8": False, "findings": []})
            continue
        non_utf8 += reason == "non_utf8"
        nbytes += len(text)
        findings = analyzer.analyze(text, path)
        rows = []
        for f in findings:
            line, col = _line_col(text, f.start)
            rows.append({**f.to_json(), "line": line, "col": col})
            per_class[f.cls] += 1
            if not as_json:
                print(f"{path}:{line}:{col}\t{f.cls}\t{f.recognizer}")
        report.append({"path": str(path), "skipped": None, "non_utf8": reason == "non_utf8", "findings": rows})
    seconds = time.perf_counter() - t0
    summary = {"files": len(files), "scanned": len(files) - sum(skipped.values()), "skipped": dict(skipped),
               "non_utf8": non_utf8, "findings": dict(per_class), "mb": round(nbytes / 1e6, 3),
               "mb_s": round(nbytes / 1e6 / max(seconds, 1e-9), 2)}
    if as_json:
        json.dump({"files": report, "summary": summary}, sys.stdout)
        print()
    for item in report:
        if item["skipped"]:
            logger.debug("%s: not scanned (%s)", item["path"], item["skipped"])
    logger.info("scanned %d of %d files (%d not UTF-8; %.2f MB, %.1f MB/s); skipped %s; findings %s",
                summary["scanned"], summary["files"], non_utf8, summary["mb"], summary["mb_s"], dict(skipped) or "none",
                dict(per_class) or "none")
    return 0
