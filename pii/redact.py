"""Redaction: StarCoder's placeholders in place of each finding, and an audit record of it.

Placeholders (`<EMAIL>`, `<KEY>`, `<PASSWORD>`, `<NAME>`) follow bigcode-dataset's
`pii/utils/replacements.py`; IP addresses become one of a few synthetic private addresses,
chosen by a stable hash of the original so one address maps to one replacement across files
(and redacting twice changes nothing: the replacements are private, hence never flagged).
Spans never cross a quote or a line end (the recognizers exclude them), so a Python file that
parsed before still parses after. The `Redaction` record keeps class, span and file, never
the value. `redact_path` applies it to a file or a folder (`starforge pii redact`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pii.analyzer import Finding, PiiAnalyzer, scan_text
from pii.config import PiiConfig
from pii.files import encode_source, read_source, walk_files
from starforge.config import save_config
from starforge.errors import PiiError
from starforge.log import progress
from starforge.run_dir import write_summary

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Redaction:
    """Audit record of one replaced span (offsets and line in the original text)."""

    cls: str
    start: int
    end: int
    line: int
    recognizer: str
    path: str | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "class": self.cls, "start": self.start, "end": self.end, "line": self.line,
                "recognizer": self.recognizer}


def replacement(cls: str, value: str, config: PiiConfig) -> str:
    if cls == "ip_address":
        try:
            version = ipaddress.ip_address(value).version
        except ValueError:
            version = 6 if ":" in value else 4
        choices = config.ip_replacements_v6 if version == 6 else config.ip_replacements_v4
        digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
        return choices[int.from_bytes(digest, "big") % len(choices)]
    return config.placeholders.get(cls, f"<{cls.upper()}>")


def redact_text(text: str, findings: list[Finding] | None = None, path: str | None = None,
                config: PiiConfig | None = None,
                analyzer: PiiAnalyzer | None = None) -> tuple[str, list[Redaction]]:
    """`text` with every finding replaced, and one `Redaction` per replacement.

    Findings default to `scan_text(text, path)` (with `analyzer` or `config` if given).
    """
    config = analyzer.config if analyzer is not None else (config or PiiConfig())
    if findings is None:
        findings = analyzer.analyze(text, path) if analyzer is not None else scan_text(text, path, config)
    parts: list[str] = []
    redactions: list[Redaction] = []
    pos, line = 0, 1
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:  # overlapping input: the earlier finding already covers it
            continue
        line += text.count("\n", pos, f.start)
        parts.append(text[pos:f.start])
        parts.append(replacement(f.cls, text[f.start:f.end], config))
        redactions.append(Redaction(f.cls, f.start, f.end, line, f.recognizer, path))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), redactions


def redact_path(src: Path, dst: Path, config: PiiConfig, audit: Path | None = None) -> int:
    """`starforge pii redact`: IN (a file or a folder) written to OUT with every finding
    replaced, a folder's layout mirrored; the audit folder (`<OUT>.pii/` by default) gets
    redactions.jsonl (no values), summary.json and the resolved config.yaml.

    Text in any encoding is redacted and written back byte for byte outside the redacted spans
    (pii/files.py); only binary files (a NUL byte in the first 8 KB) are copied unscanned, and
    the summary counts them (`copied_binary`) and the text files that were not UTF-8
    (`non_utf8`)."""
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
    nbytes, non_utf8, t0 = 0, 0, time.perf_counter()
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
            non_utf8 += reason == "non_utf8"
            redacted, redactions = redact_text(text, path=str(rel), analyzer=analyzer)
            out.write_bytes(encode_source(redacted))  # bytes that were not UTF-8 come back as they were
            counts["redacted" if redactions else "unchanged"] += 1
            for r in redactions:
                log.write(json.dumps(r.to_json()) + "\n")
                per_class[r.cls] += 1
    seconds = time.perf_counter() - t0
    summary = {"input": str(src), "output": str(dst), "files": len(files), **counts, "non_utf8": non_utf8,
               "skipped": dict(skipped), "redactions": dict(per_class), "mb": round(nbytes / 1e6, 3),
               "mb_s": round(nbytes / 1e6 / max(seconds, 1e-9), 2), "audit": str(audit)}
    write_summary(audit, "pii", summary, {"output": str(dst), "audit": str(audit)}, command="pii redact")
    save_config(config, audit / "config.yaml")
    logger.info("redacted %d files (%d changed, %d not UTF-8, %d binary copied unscanned, %d not written) into %s; "
                "redactions %s; %.2f MB at %.1f MB/s; audit in %s", len(files), counts["redacted"], non_utf8,
                counts["copied_binary"], sum(skipped.values()), dst,
                dict(per_class) or "none", summary["mb"], summary["mb_s"], audit)
    return 0
